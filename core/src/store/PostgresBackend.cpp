// The PostgreSQL backend (see PostgresBackend.h).
#include "store/PostgresBackend.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <libpq-fe.h>

#include <cctype>
#include <mutex>

#include "switchboard/Store.h"

namespace switchboard {

namespace {

constexpr const char* kExpected = " (expected postgresql://user:password@host:port/database)";

std::string decode(const std::string& part, const std::string& what) {
    std::string out;
    try {
        Poco::URI::decode(part, out);
    } catch (const Poco::Exception&) {
        throw StoreError("store.url: the " + what + " has a bad percent-escape");
    }
    return out;
}

/// POCO's connector splits the connection string at spaces and '=' itself, without quoting.
void checkPlain(const std::string& value, const std::string& what) {
    for (unsigned char c : value) {
        if (std::isspace(c) || c == '\'' || c == '\\' || c == '=' || c < 0x20) {
            throw StoreError("store.url: the " + what +
                             " may not contain spaces, quotes, '=' or backslashes");
        }
    }
}

bool isIdentifier(const std::string& s) {
    if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) {
        return false;
    }
    for (unsigned char c : s) {
        if (!(std::isalnum(c) || c == '_')) {
            return false;
        }
    }
    return true;
}

std::size_t number(const std::string& key, const std::string& value, std::size_t lo,
                   std::size_t hi) {
    unsigned n = 0;
    if (!Poco::NumberParser::tryParseUnsigned(value, n) || n < lo || n > hi) {
        throw StoreError("store.url: " + key + " must be a number from " + std::to_string(lo) +
                         " to " + std::to_string(hi) + ", got '" + value + "'");
    }
    return n;
}

}  // namespace

PostgresBackend::PostgresBackend(const std::string& url) {
    std::string rest = url.substr(url.find("://") + 3);
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest.resize(q);
    }
    auto slash = rest.find('/');
    if (slash == std::string::npos || slash + 1 == rest.size()) {
        throw StoreError(std::string("store.url: postgresql URL names no database") + kExpected);
    }
    _database = decode(rest.substr(slash + 1), "database name");
    std::string authority = rest.substr(0, slash);
    if (auto at = authority.rfind('@'); at != std::string::npos) {
        std::string userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        auto colon = userinfo.find(':');
        _user = decode(userinfo.substr(0, colon), "user name");
        if (colon != std::string::npos) {
            _password = decode(userinfo.substr(colon + 1), "password");
        }
    }
    if (!authority.empty() && authority.front() == '[') {  // [::1]:5432
        auto close = authority.find(']');
        if (close == std::string::npos) {
            throw StoreError("store.url: unterminated [ in the host");
        }
        _host = authority.substr(1, close - 1);
        authority = authority.substr(close + 1);
        if (!authority.empty() && authority.front() != ':') {
            throw StoreError("store.url: unexpected text after the host");
        }
        if (!authority.empty()) {
            _port = static_cast<int>(number("the port", authority.substr(1), 1, 65535));
        }
    } else {
        auto colon = authority.rfind(':');
        _host = authority.substr(0, colon);
        if (colon != std::string::npos) {
            _port = static_cast<int>(number("the port", authority.substr(colon + 1), 1, 65535));
        }
    }
    if (_host.empty()) {
        throw StoreError(std::string("store.url: postgresql URL names no host") + kExpected);
    }
    checkPlain(_host, "host");
    checkPlain(_user, "user name");
    checkPlain(_password, "password");
    checkPlain(_database, "database name");
    std::size_t start = 0;
    while (start < query.size()) {
        std::size_t end = query.find('&', start);
        if (end == std::string::npos) {
            end = query.size();
        }
        std::string pair = query.substr(start, end - start);
        start = end + 1;
        if (pair.empty()) {
            continue;
        }
        auto eq = pair.find('=');
        std::string key = pair.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : decode(pair.substr(eq + 1), key);
        if (key == "schema") {
            if (!isIdentifier(value)) {
                throw StoreError("store.url: schema must be letters, digits and _, got '" + value +
                                 "'");
            }
            _schema = value;
        } else if (key == "pool_size") {
            _poolSize = number(key, value, 1, 256);
        } else if (key == "connect_timeout") {
            _connectTimeout = number(key, value, 1, 600);
        } else if (key == "sslmode") {
            static const char* modes[] = {"disable", "allow",     "prefer",
                                          "require", "verify-ca", "verify-full"};
            bool known = false;
            for (const char* m : modes) {
                known = known || value == m;
            }
            if (!known) {
                throw StoreError("store.url: sslmode '" + value +
                                 "' is not one of disable, allow, prefer, require, verify-ca, "
                                 "verify-full");
            }
            _sslmode = value;
        } else {
            throw StoreError("store.url: unknown parameter '" + key +
                             "' (known: schema, pool_size, connect_timeout, sslmode)");
        }
    }
    static std::once_flag registered;
    std::call_once(registered, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
}

std::string PostgresBackend::connector() const {
    return Poco::Data::PostgreSQL::Connector::KEY;
}

std::string PostgresBackend::connectionString() const {
    std::string s = "host=" + _host + " port=" + std::to_string(_port) + " dbname=" + _database;
    if (!_user.empty()) {
        s += " user=" + _user;
    }
    if (!_password.empty()) {
        s += " password=" + _password;
    }
    if (!_sslmode.empty()) {
        s += " sslmode=" + _sslmode;
    }
    s += " connect_timeout=" + std::to_string(_connectTimeout);
    return s;
}

std::string PostgresBackend::location() const {
    std::string host = _host.find(':') != std::string::npos ? "[" + _host + "]" : _host;
    return "postgresql://" + (_user.empty() ? "" : _user + "@") + host + ":" +
           std::to_string(_port) + "/" + _database + (_schema.empty() ? "" : "?schema=" + _schema);
}

bool PostgresBackend::probe(std::string& error) {
    PGconn* conn = PQconnectdb(connectionString().c_str());
    bool ok = conn != nullptr && PQstatus(conn) == CONNECTION_OK;
    if (!ok) {
        error = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
        while (!error.empty() && std::isspace(static_cast<unsigned char>(error.back()))) {
            error.pop_back();
        }
    }
    PQfinish(conn);
    return ok;
}

void PostgresBackend::setupSession(Poco::Data::Session& session) {
    // libpq prints NOTICEs (e.g. "schema ... already exists, skipping") on stderr.
    session << "SET client_min_messages TO warning", Poco::Data::Keywords::now;
    if (!_schema.empty()) {
        // Two nodes may start at once: IF NOT EXISTS can still race, so a failure is only an
        // error if the schema is then missing.
        try {
            session << "CREATE SCHEMA IF NOT EXISTS " + _schema, Poco::Data::Keywords::now;
        } catch (const Poco::Exception&) {
        }
        session << "SET search_path TO " + _schema, Poco::Data::Keywords::now;
    }
}

}  // namespace switchboard
