// Reads members of the server's JSON messages without building a tree: sb-sigload only needs a
// few fields (type, ids, data) of messages that may hold a thousand peers.
#pragma once

#include <functional>
#include <string_view>

namespace sigload::json {

/// The raw text of member key of the JSON object text ("" when absent or malformed).
std::string_view member(std::string_view object, std::string_view key);
/// The characters of a JSON string value without its quotes (escapes left as they are); "" when
/// raw is not a string.
std::string_view str(std::string_view raw);
/// Calls fn with the raw text of each element of a JSON array; returns how many there were, or
/// -1 when raw is not a well-formed array.
int forEach(std::string_view array, const std::function<void(std::string_view)>& fn);

}  // namespace sigload::json
