-- Example on_server_register hook for the pairing plugin. Copy into a script listed under
-- lua.scripts. Return false plus a reason to refuse a registration (the client gets 403).
function on_server_register(server)
  if server.ssh_user == "root" then
    return false, "ssh_user root is not allowed"
  end
  log.info("registering a server for " .. server.ssh_user .. " from " .. server.peer)
  return true
end
