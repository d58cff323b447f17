-- wrk script: POST /login as the users named in $WRK_USERS_FILE (one username per line, all
-- with the password $WRK_PASSWORD), round-robin, each wrk thread from its own offset.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local summary = dofile(dir .. "summary.lua")

local users_file = os.getenv("WRK_USERS_FILE")
local password = os.getenv("WRK_PASSWORD")
if users_file == nil or users_file == "" or password == nil or password == "" then
    summary.fail("login.lua: set WRK_USERS_FILE and WRK_PASSWORD")
end

local users = {}
for line in summary.read_file(users_file):gmatch("[^\r\n]+") do
    users[#users + 1] = line
end
if #users == 0 then
    summary.fail("login.lua: no users in " .. users_file)
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

function init(_)
    for i, user in ipairs(users) do
        local body = '{"username": ' .. summary.json_string(user) .. ', "password": '
            .. summary.json_string(password) .. '}'
        requests[i] = wrk.format(nil, nil, nil, body)
    end
    next_index = ((thread_index or 0) * 31) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end

function done(s, latency, _)
    summary.done("login", s, latency)
end
