// Signaling agents for sb-sigload's scenarios (see Agents.h).
#include "Agents.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "JsonScan.h"

namespace sigload {

std::vector<AgentSpec> loadAgents(const std::string& file) {
    std::ifstream in(file);
    if (!in) {
        throw std::invalid_argument("cannot read the agents file '" + file + "'");
    }
    std::vector<AgentSpec> specs;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::istringstream fields(line);
        AgentSpec spec;
        if (!(fields >> spec.org >> spec.token)) {
            throw std::invalid_argument(file + ":" + std::to_string(number) +
                                        ": expected 'ORG_ID TOKEN'");
        }
        specs.push_back(std::move(spec));
    }
    return specs;
}

Agents::Agents(const Options& o, std::vector<AgentSpec> specs, std::string prefix, Hooks hooks)
    : _o(o), _specs(std::move(specs)), _hooks(std::move(hooks)) {
    _slots = std::make_unique<Slot[]>(_specs.size());
    for (std::size_t i = 0; i < _specs.size(); ++i) {
        _slots[i].id = prefix + std::to_string(i);
    }
    _client = std::make_unique<EventClient>(makeTarget(o), o.threads, size(), *this);
}

void Agents::openWindow(int first, int last, int window) {
    _next = first;
    _last = last;
    for (int k = 0; k < window && k < last - first; ++k) {
        openNext();
    }
}

void Agents::openNext() {
    int i = _next.fetch_add(1);
    if (i < _last.load()) {
        slot(i).inWindow = true;
        connect(i, true);
    }
}

void Agents::connect(int i, bool autoRegister) {
    Slot& s = slot(i);
    s.opened = false;
    s.registered = false;
    s.closed = false;
    s.closing = false;
    s.failed = false;
    s.known = 0;
    s.autoRegister = autoRegister;
    s.started = Clock::now();
    const AgentSpec& spec = _specs[static_cast<std::size_t>(i)];
    if (_o.tokenHeader) {
        _client->open(i, _o.path, "Authorization: Bearer " + spec.token + "\r\n");
    } else {
        _client->open(i, _o.path + "?token=" + spec.token);
    }
}

void Agents::sendRegister(Connection& conn) {
    int i = conn.index();
    std::string msg = "{\"type\":\"register\",\"agent_id\":\"" + id(i) +
                      "\",\"public_ip\":\"203.0.113." + std::to_string(1 + i % 250) +
                      "\",\"public_port\":" + std::to_string(10000 + i % 50000) +
                      ",\"organization_id\":" + std::to_string(spec(i).org) + "}";
    conn.sendText(msg);
}

void Agents::closeNow(Connection& conn) {
    slot(conn.index()).closing = true;
    conn.close(1000);
}

void Agents::closeRange(int first, int last) {
    for (int i = first; i < last; ++i) {
        if (!slot(i).closed.load()) {
            post(i, [this](Connection& c) { closeNow(c); });
        }
    }
}

void Agents::fail(Slot& s, const std::string& why) {
    if (s.failed) {
        return;
    }
    s.failed = true;
    ++_failed;
    gErrors.add(why);
    if (s.inWindow) {
        openNext();
    }
}

void Agents::onOpen(Connection& conn) {
    Slot& s = slot(conn.index());
    s.opened = true;
    if (s.autoRegister) {
        sendRegister(conn);
    }
}

bool Agents::ignored(std::string_view peerId) const {
    return !_o.ignorePrefix.empty() && peerId.substr(0, _o.ignorePrefix.size()) == _o.ignorePrefix;
}

void Agents::onText(Connection& conn, std::string_view text, Clock::time_point at) {
    Slot& s = slot(conn.index());
    std::string_view type = json::str(json::member(text, "type"));
    if (type == "peer_online") {
        std::string_view peer = json::str(json::member(json::member(text, "peer"), "peer_id"));
        if (peer.empty()) {
            gErrors.add("peer_online without peer.peer_id: " + std::string(text.substr(0, 200)));
            return;
        }
        if (ignored(peer)) {
            return;
        }
        ++s.known;
        ++_online;
        if (_hooks.online) {
            _hooks.online(conn, peer, at);
        }
    } else if (type == "peer_offline") {
        std::string_view peer = json::str(json::member(text, "peer_id"));
        if (peer.empty()) {
            gErrors.add("peer_offline without peer_id: " + std::string(text.substr(0, 200)));
            return;
        }
        if (ignored(peer)) {
            return;
        }
        --s.known;
        ++_offline;
        if (_hooks.offline) {
            _hooks.offline(conn, peer, at);
        }
    } else if (type == "signal") {
        if (_hooks.signal) {
            _hooks.signal(conn, json::str(json::member(text, "from")), json::member(text, "data"),
                          at);
        }
    } else if (type == "register_agent_response") {
        onResponse(conn, text, at);
    } else if (std::string_view error = json::member(text, "error"); !error.empty()) {
        ++_serverErrors;
        std::string what = "server error message " + std::string(error.substr(0, 200)) +
                           (s.registered ? " (registered agent)" : " (before registration)");
        if (s.registered) {
            gErrors.add(what);
        } else {
            fail(s, what);
        }
    } else {
        note("unexpected message: " + std::string(text.substr(0, 200)));
    }
}

void Agents::onResponse(Connection& conn, std::string_view text, Clock::time_point at) {
    Slot& s = slot(conn.index());
    std::string_view status = json::str(json::member(text, "status"));
    if (status != "registered") {
        fail(s, "register_agent_response with status '" + std::string(status) + "'");
        return;
    }
    if (s.registered.load()) {
        gErrors.add("a second register_agent_response");
        return;
    }
    int skipped = 0;
    int peers = json::forEach(json::member(text, "existing_peers"), [&](std::string_view peer) {
        if (ignored(json::str(json::member(peer, "peer_id")))) {
            ++skipped;
        }
    });
    if (peers < 0) {
        fail(s, "register_agent_response without an existing_peers array");
        return;
    }
    s.known += peers - skipped;
    s.done = at;
    s.registered = true;
    ++_registered;
    if (_hooks.registered) {
        _hooks.registered(conn, text, at);
    }
    if (s.inWindow) {
        openNext();
    }
}

void Agents::onClosed(Connection& conn, const CloseInfo& info) {
    Slot& s = slot(conn.index());
    std::string why = !info.error.empty()
                          ? info.error
                          : "closed by the server with code " + std::to_string(info.code);
    if (!s.registered.load()) {
        if (!s.closing.load()) {
            fail(s, "before registration: " + why);
        }
    } else if (!s.closing.load()) {
        ++_unexpected;
        gErrors.add("registered agent lost: " + why);
    } else if (!info.clean) {
        note("a close we started ended without the server's close frame: " + why);
    }
    s.closed = true;
    ++_closed;
}

}  // namespace sigload
