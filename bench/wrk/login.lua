-- wrk script: POST /login as the users named in $WRK_USERS_FILE (one username per line, all
-- with the password $WRK_PASSWORD), round-robin, each wrk thread from its own offset.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local password = os.getenv("WRK_PASSWORD")
if password == nil or password == "" then
    summary.fail("login.lua: set WRK_USERS_FILE and WRK_PASSWORD")
end
local users = summary.read_lines("WRK_USERS_FILE", "login.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

summary.round_robin(users, 31, function(_, user)
    local body = '{"username": ' .. summary.json_string(user) .. ', "password": '
        .. summary.json_string(password) .. '}'
    return wrk.format(nil, nil, nil, body)
end)

function done(s, latency, _)
    summary.done("login", s, latency)
end
