// Running one SQL statement on a Poco::Data session with SqlValue parameters and reading its
// rows back as SqlRows: the part of the Store every backend shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/Store.h"

namespace Poco::Data {
class Session;
}

namespace switchboard {

/// Runs `sql` with `params` ($1..$n) and returns the affected rows. Throws StoreError with
/// POCO's message (and for parameters checkSqlParams refuses).
std::int64_t runExecute(Poco::Data::Session& session, const std::string& sql,
                        const SqlParams& params);

/// Runs `sql` with `params` and returns its rows. Integer columns read as int64, floating
/// point as double, everything else as text; NULL as nullptr. Throws StoreError.
std::vector<SqlRow> runQuery(Poco::Data::Session& session, const std::string& sql,
                             const SqlParams& params);

/// True for a plain SELECT, the only statement that may skip a backend's write lock; anything
/// else (INSERT ... RETURNING, WITH ...) counts as a write.
bool isPlainSelect(const std::string& sql);

}  // namespace switchboard
