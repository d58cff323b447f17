-- Example on_communicate hook for the auth plugin (the seed ServerAPI request_callback). Copy
-- into a script listed under lua.scripts. Runs for every POST /communicate with a valid
-- sessionToken cookie; returns force_close, force_logout, response_table.
function on_communicate(username, session_token, data, session_id)
  if data.action == "echo" then
    return false, false, { echo = data.message or "" }
  end
  if data.action == "bye" then
    -- End this login (cookie and JWT) and close the connection after answering.
    return true, true, { message = "Goodbye, " .. username .. "." }
  end
  if data.action == "count" then
    -- Per-session state that survives reloads and is shared by all threads: the store.
    local key = "calls:" .. session_id
    local n = (store.get(key) or 0) + 1
    store.put(key, n)
    return false, false, { calls = n }
  end
  return false, false, { error = "Unknown action." }
end
