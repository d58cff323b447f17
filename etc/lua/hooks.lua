-- Example Lua hooks. List this file under lua.scripts in etc/switchboard.yaml to use it.
-- Hooks are plain global functions; see docs/lua.md for the sandbox and the API.

-- pairing: refuse registrations from a reserved user name.
function on_server_register(server)
  if server.ssh_user == "root" then
    return false, "ssh_user root is not allowed"
  end
  return true
end

-- Any bus event matching a pattern subscribed at load time.
bus.subscribe("server.*")
function on_event(topic, payload)
  log.info(topic .. " " .. json.encode(payload))
end
