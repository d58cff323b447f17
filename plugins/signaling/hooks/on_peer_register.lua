-- Example on_peer_register hook for the signaling plugin. Copy into a script listed under
-- lua.scripts. `peer` is the seed's peer object (peer_id, user_id, email, agent_id, public_ip,
-- public_port, relay_ip, relay_port, virtual_ip) plus organization_id, connection_id and
-- remote_address (the TCP peer). Return false and a reason to refuse the registration: the
-- client gets {"error": reason} and the connection is closed.
local blocked_prefixes = { "192.0.2." }   -- TEST-NET-1: never a real public address

function on_peer_register(peer)
  for _, prefix in ipairs(blocked_prefixes) do
    if peer.public_ip:sub(1, #prefix) == prefix then
      return false, "public_ip " .. peer.public_ip .. " is not accepted"
    end
  end
  if peer.agent_id ~= nil and #peer.agent_id > 64 then
    return false, "agent_id is longer than this server accepts"
  end
  log.info("agent " .. peer.peer_id .. " of user " .. peer.user_id .. " joins organization " ..
           peer.organization_id .. " from " .. peer.remote_address)
  return true
end
