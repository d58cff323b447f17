-- wrk script: POST a fixed JSON body, taken from $WRK_BODY or from the file named by
-- $WRK_BODY_FILE, e.g. WRK_BODY='{"pairing_code":1234}' wrk -s bench/wrk/post.lua URL.
-- done() prints one JSON summary line (see summary.lua).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local body = os.getenv("WRK_BODY")
if body == nil or body == "" then
    local file = os.getenv("WRK_BODY_FILE")
    if file == nil or file == "" then
        summary.fail("post.lua: set WRK_BODY or WRK_BODY_FILE")
    end
    body = summary.read_file(file)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

function done(s, latency, _)
    summary.done("post", s, latency)
end
