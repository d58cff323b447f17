-- Example session_valid hook for the auth plugin (the seed ServerAPI
-- session_validity_callback). Runs on one thread every plugins.auth.sessions.check_interval
-- for each live session, and when a session's cookie is used. Return false to end it.
function session_valid(session)
  -- Accounts an operator blocked with store.put("blocked:<username>", true) lose their
  -- sessions at the next check.
  if store.get("blocked:" .. session.username) then
    return false
  end
  -- Logins from outside the office network last at most 8 hours.
  local office = session.peer:find("^10%.") ~= nil
  if not office and time.now() - session.created_at > 8 * 3600 then
    return false
  end
  return true
end
