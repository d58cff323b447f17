-- wrk script: POST {"ssh_pubkey": "<key>", "action": "heartbeat"} with the key taken round-robin
-- from $WRK_KEYS_FILE (one key per line, registered beforehand by the driver). Each wrk thread
-- starts at a different offset so the threads together spread over all keys.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

-- Read and checked while the script loads, so a bad file stops wrk before it starts.
local keys = summary.read_lines("WRK_KEYS_FILE", "heartbeat.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

summary.round_robin(keys, 7919, function(_, key)
    local body = '{"ssh_pubkey": ' .. summary.json_string(key) .. ', "action": "heartbeat"}'
    return wrk.format(nil, nil, nil, body)
end)

function done(s, latency, _)
    summary.done("heartbeat", s, latency)
end
