// How the operator CLI prints answers: aligned tables for lists, aligned "key  value" lines for
// one object, timestamps as UTC; and which array of an answer is the list (the paginated
// {"items": [...]} shape, or the older {"<noun>": [...]} and bare-array shapes).
#pragma once

#include <rapidjson/document.h>

#include <ostream>
#include <string>
#include <vector>

namespace switchboard::ctl {

/// The list in `doc`: its "items" array, the document itself if it is an array, else its first
/// array member; nullptr if there is none.
const rapidjson::Value* listOf(const rapidjson::Value& doc);
/// One cell: strings as they are, numbers of time columns (`*_at`, `time`, `last_*`) as
/// "YYYY-MM-DD HH:MM:SSZ", null as "-", objects and arrays as compact JSON.
std::string cell(const std::string& column, const rapidjson::Value& value);
/// An aligned table of `rows` with `columns` (all scalar keys of the first row when empty),
/// upper-case headers, two spaces between columns.
void printTable(std::ostream& out, const rapidjson::Value& rows, std::vector<std::string> columns);
/// "key  value" lines of an object's members (nested objects one level deep as "outer.key").
void printObject(std::ostream& out, const rapidjson::Value& object);

}  // namespace switchboard::ctl
