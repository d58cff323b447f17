-- wrk script: plain GET of the URL given (e.g. /healthz); done() prints one JSON summary line.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

function done(s, latency, _)
    summary.done("get", s, latency)
end
