// The in-memory account directory (see Directory.h).
#include "Directory.h"

#include "switchboard/Json.h"

namespace switchboard::messaging {

std::string Directory::fold(const std::string& text) {
    std::string out = text;
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

void Directory::unindexLocked(std::int64_t id) {
    auto it = _accounts.find(id);
    if (it == _accounts.end()) {
        return;
    }
    for (const std::string* name : {&it->second.username, &it->second.email}) {
        auto n = _byName.find(fold(*name));
        if (!name->empty() && n != _byName.end() && n->second == id) {
            _byName.erase(n);
        }
    }
    _accounts.erase(it);
}

void Directory::put(std::int64_t id, const std::string& username, const std::string& email) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _accounts.find(id);
    if (it != _accounts.end() && it->second.username == username && it->second.email == email) {
        return;
    }
    unindexLocked(id);
    _accounts[id] = Account{username, email};
    if (!username.empty()) {
        _byName[fold(username)] = id;
    }
    if (!email.empty()) {
        _byName[fold(email)] = id;
    }
    _lis.reset();
}

void Directory::remove(std::int64_t id) {
    std::lock_guard<std::mutex> lock(_mutex);
    unindexLocked(id);
    _lis.reset();
}

std::optional<Directory::Entry> Directory::find(const std::string& login) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto n = _byName.find(fold(login));
    if (n == _byName.end()) {
        return std::nullopt;
    }
    return Entry{n->second, _accounts.at(n->second).login()};
}

std::optional<Directory::Entry> Directory::findById(std::int64_t id) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _accounts.find(id);
    if (it == _accounts.end()) {
        return std::nullopt;
    }
    return Entry{id, it->second.login()};
}

std::size_t Directory::size() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _accounts.size();
}

std::vector<std::int64_t> Directory::ids() const {
    std::lock_guard<std::mutex> lock(_mutex);
    std::vector<std::int64_t> out;
    out.reserve(_accounts.size());
    for (const auto& [id, account] : _accounts) {
        out.push_back(id);
    }
    return out;
}

Directory::ListChunks Directory::listChunks() {
    std::lock_guard<std::mutex> lock(_mutex);
    if (_lis) {
        return _lis;
    }
    auto chunks = std::make_shared<std::vector<ListChunk>>();
    ListChunk current;
    std::size_t index = 0;
    for (const auto& [id, account] : _accounts) {
        std::string name = json::quote(account.login());  // auth caps logins far below 64 KiB
        if (current.count > 0 && current.names.size() + 1 + name.size() > _maxChunk) {
            chunks->push_back(std::move(current));
            current = ListChunk{};
        }
        if (current.count == 0) {
            current.first = index;
        } else {
            current.names += ',';
        }
        current.names += name;
        ++current.count;
        ++index;
    }
    current.first = current.count == 0 ? index : current.first;
    chunks->push_back(std::move(current));
    _lis = chunks;
    return _lis;
}

}  // namespace switchboard::messaging
