-- Example on_chat_message hook (plugins/messaging): called before a chat message is stored
-- and delivered, with {sender, reciever, msg, ts}. Return the table (changed or not) to send
-- it, or nil plus a reason to drop it: the sender gets ERR "Message not sent: <reason>".
-- Only `msg` of the returned table is used.
local blocked = { "buy now", "free money" }

function on_chat_message(m)
  local text = m.msg:lower()
  for _, phrase in ipairs(blocked) do
    if text:find(phrase, 1, true) then
      return nil, "looks like spam"
    end
  end
  return m
end
