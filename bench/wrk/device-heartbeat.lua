-- wrk script: Meeting device heartbeats, POST /api/devices/<key>/online with the body the client
-- sends (every field but ip_address, which the server takes from the peer), spread round-robin
-- over the device keys in $WRK_KEYS_FILE (one per line, enrolled and registered beforehand).
-- Each wrk thread starts at a different offset so the threads together cover all keys.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local keys = summary.read_lines("WRK_KEYS_FILE", "device-heartbeat.lua")
local headers = { ["Content-Type"] = "application/json" }

summary.round_robin(keys, 7919, function(i, key)
    local a, b, c = math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256
    local body = string.format('{"ip_lan": "10.%d.%d.%d", "ip_public": "203.0.113.%d", '
        .. '"mac": "00:1A:2B:%02X:%02X:%02X", "note": "Updates Manager Tool"}',
        a, b, c, i % 250 + 1, a, b, c)
    return wrk.format("POST", "/api/devices/" .. key .. "/online", headers, body)
end)

function done(s, latency, _)
    summary.done("device-heartbeat", s, latency)
end
