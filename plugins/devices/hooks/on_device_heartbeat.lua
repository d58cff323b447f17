-- Example on_device_heartbeat hook for the devices plugin. Copy into a script listed under
-- lua.scripts. `device` is what the server knows (device_key, note, registered_at, last_seen,
-- online, device_info); `info` holds this heartbeat's fields (ip_address filled in). A returned
-- table is merged into the stored device_info; an error fails the heartbeat with a 500.
function on_device_heartbeat(device, info)
  local previous = device.device_info.ip_public
  if previous ~= nil and info.ip_public ~= nil and previous ~= info.ip_public then
    log.info("device " .. device.device_key .. " moved from " .. previous .. " to " ..
             info.ip_public)
    bus.publish("lua.device_moved", { device_key = device.device_key, from = previous,
                                  to = info.ip_public })
  end
  return { last_heartbeat_from = info.ip_address }
end
