-- wrk script: Meeting device heartbeats, POST /api/devices/<key>/online with the body the client
-- sends (every field but ip_address, which the server takes from the peer), spread round-robin
-- over the device keys in $WRK_KEYS_FILE (one per line, enrolled and registered beforehand).
-- Each wrk thread starts at a different offset so the threads together cover all keys.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local keys_file = os.getenv("WRK_KEYS_FILE")
if keys_file == nil or keys_file == "" then
    summary.fail("device-heartbeat.lua: set WRK_KEYS_FILE")
end

local keys = {}
for line in summary.read_file(keys_file):gmatch("[^\r\n]+") do
    local key = line:match("^%s*(.-)%s*$")
    if key ~= "" then
        keys[#keys + 1] = key
    end
end
if #keys == 0 then
    summary.fail("device-heartbeat.lua: no keys in " .. keys_file)
end

local thread_count = 0
local requests = {}
local next_index = 1

function setup(thread)
    thread:set("thread_index", thread_count)
    thread_count = thread_count + 1
end

-- Whole requests are built once per thread so request() is a table lookup.
function init(_)
    local headers = { ["Content-Type"] = "application/json" }
    for i, key in ipairs(keys) do
        local a, b, c = math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256
        local body = string.format('{"ip_lan": "10.%d.%d.%d", "ip_public": "203.0.113.%d", '
            .. '"mac": "00:1A:2B:%02X:%02X:%02X", "note": "Updates Manager Tool"}',
            a, b, c, i % 250 + 1, a, b, c)
        requests[i] = wrk.format("POST", "/api/devices/" .. key .. "/online", headers, body)
    end
    next_index = ((thread_index or 0) * 7919) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end

function done(s, latency, _)
    summary.done("device-heartbeat", s, latency)
end
