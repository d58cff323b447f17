-- Shared by the bench wrk scripts: done() prints ONE JSON line with the run's totals, error
-- counts and latency percentiles, so drivers can grep the line starting with '{"wrk":'.
-- Also holds the small helpers the scripts need (file reading, JSON string escaping).

local M = {}

-- wrk only prints errors raised while loading a script and then runs anyway (with GET
-- requests), so configuration errors stop the process instead.
function M.fail(message)
    io.stderr:write(message .. "\n")
    os.exit(2)
end

function M.read_file(path)
    local f, err = io.open(path, "rb")
    if not f then
        M.fail("cannot open " .. path .. ": " .. tostring(err))
    end
    local data = f:read("*a")
    f:close()
    return data
end

function M.json_string(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
        if c == '"' or c == "\\" then
            return "\\" .. c
        end
        return string.format("\\u%04x", c:byte())
    end) .. '"'
end

function M.done(script, summary, latency)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    local function ms(us)
        return string.format("%.3f", us / 1000)
    end
    io.write(string.format(
        '{"wrk":"%s","requests":%d,"duration_s":%.3f,"rps":%.1f,'
            .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
            .. '"p50_ms":%s,"p90_ms":%s,"p99_ms":%s,"max_ms":%s}\n',
        script, summary.requests, seconds, summary.requests / seconds, e.connect, e.read,
        e.write, e.status, e.timeout, ms(latency:percentile(50)), ms(latency:percentile(90)),
        ms(latency:percentile(99)), ms(latency.max)))
end

return M
