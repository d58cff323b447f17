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

-- The non-blank lines (trimmed) of the file named by environment variable `var`; stops wrk
-- with a message naming `script` if the variable is unset or the file has no lines.
function M.read_lines(var, script)
    local path = os.getenv(var)
    if path == nil or path == "" then
        M.fail(script .. ": set " .. var)
    end
    local lines = {}
    for line in M.read_file(path):gmatch("[^\r\n]+") do
        local item = line:match("^%s*(.-)%s*$")
        if item ~= "" then
            lines[#lines + 1] = item
        end
    end
    if #lines == 0 then
        M.fail(script .. ": no lines in " .. path)
    end
    return lines
end

-- Serves one request per item, round-robin: defines wrk's setup/init/request so each thread
-- builds every request once (`build(i, item)` returns wrk.format(...)) and then only looks them
-- up; thread n starts at offset n * stride so the threads spread over all items.
function M.round_robin(items, stride, build)
    local thread_count = 0
    local requests = {}
    local next_index = 1
    function setup(thread)
        thread:set("thread_index", thread_count)
        thread_count = thread_count + 1
    end
    function init(_)
        for i, item in ipairs(items) do
            requests[i] = build(i, item)
        end
        next_index = ((thread_index or 0) * stride) % #requests + 1
    end
    function request()
        local r = requests[next_index]
        next_index = next_index % #requests + 1
        return r
    end
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
