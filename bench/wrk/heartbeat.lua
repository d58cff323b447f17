-- wrk script: POST {"ssh_pubkey": "<key>", "action": "heartbeat"} with the key taken round-robin
-- from $WRK_KEYS_FILE (one key per line, registered beforehand by the driver). Each wrk thread
-- starts at a different offset so the threads together spread over all keys.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local keys_file = os.getenv("WRK_KEYS_FILE")
if keys_file == nil or keys_file == "" then
    summary.fail("heartbeat.lua: set WRK_KEYS_FILE")
end

-- Read and checked while the script loads, so a bad file stops wrk before it starts.
local keys = {}
for line in summary.read_file(keys_file):gmatch("[^\r\n]+") do
    local key = line:match("^%s*(.-)%s*$")
    if key ~= "" then
        keys[#keys + 1] = key
    end
end
if #keys == 0 then
    summary.fail("heartbeat.lua: no keys in " .. keys_file)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local thread_count = 0
local requests = {}
local next_index = 1

function setup(thread)
    thread:set("thread_index", thread_count)
    thread_count = thread_count + 1
end

-- Whole requests are built once per thread so request() is a table lookup.
function init(_)
    for i, key in ipairs(keys) do
        local body = '{"ssh_pubkey": ' .. summary.json_string(key) .. ', "action": "heartbeat"}'
        requests[i] = wrk.format(nil, nil, nil, body)
    end
    next_index = ((thread_index or 0) * 7919) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end

function done(s, latency, _)
    summary.done("heartbeat", s, latency)
end
