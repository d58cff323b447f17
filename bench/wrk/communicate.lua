-- wrk script: POST $WRK_BODY with the session cookie $WRK_COOKIE (the sessionToken value from a
-- login made by the driver), e.g. against /communicate. done() prints one JSON summary line.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local body = os.getenv("WRK_BODY")
local cookie = os.getenv("WRK_COOKIE")
if body == nil or body == "" or cookie == nil or cookie == "" then
    summary.fail("communicate.lua: set WRK_BODY and WRK_COOKIE")
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "sessionToken=" .. cookie

function done(s, latency, _)
    summary.done("communicate", s, latency)
end
