// UTF-8 validation: every text a client sends (JSON strings, WebSocket text messages, chat
// frames) is well-formed UTF-8 or refused, so nothing stored or echoed breaks strict clients.
#pragma once

#include <string_view>

namespace switchboard {

/// True if `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// past U+10FFFF, no truncated sequences).
bool validUtf8(std::string_view text);

}  // namespace switchboard
