// The Redis-shared event bus (see RedisBus.h).
#include "bus/RedisBus.h"

#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>

#include <algorithm>
#include <random>

#include "bus/RespClient.h"
#include "services/MetricsRegistry.h"
#include "switchboard/Clock.h"
#include "switchboard/Json.h"
#include "switchboard/ThreadName.h"

namespace switchboard {

namespace {

const Poco::Timespan kConnectTimeout(1, 0);
const Poco::Timespan kReplyTimeout(2, 0);
const Poco::Timespan kReadPoll(0, 100 * 1000);
constexpr std::chrono::milliseconds kBackoffFirst{100};
constexpr std::chrono::milliseconds kBackoffMax{2000};
constexpr std::size_t kBatch = 256;
/// The topic of heartbeat frames: noted by the subscriber, never delivered.
const std::string kHeartbeat = "bus.heartbeat";
constexpr std::chrono::milliseconds kNodeCheck{100};

/// "2s", "500ms" within 100 ms .. 600 s; false otherwise.
bool parseTimeout(const std::string& text, std::chrono::milliseconds& out) {
    std::size_t digits = 0;
    while (digits < text.size() && digits < 9 && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    std::string unit = text.substr(digits);
    if (digits == 0 || (unit != "ms" && unit != "s")) {
        return false;
    }
    long long n = std::stoll(text.substr(0, digits));
    out = std::chrono::milliseconds(unit == "s" ? n * 1000 : n);
    return out.count() >= 100 && out.count() <= 600000;
}

Poco::Logger& logger() {
    return Poco::Logger::get("switchboard.bus");
}

std::string randomNodeId() {
    std::random_device rd;
    std::uniform_int_distribution<int> hex(0, 15);
    std::string id;
    for (int i = 0; i < 12; ++i) {
        id += "0123456789abcdef"[hex(rd)];
    }
    return id;
}

/// node \n topic \n timeMs \n payload
std::string frame(const std::string& node, const Event& e) {
    return node + "\n" + e.topic + "\n" + std::to_string(e.timeMs) + "\n" + e.payload;
}

bool unframe(const std::string& text, Event& e) {
    std::size_t a = text.find('\n');
    std::size_t b = a == std::string::npos ? a : text.find('\n', a + 1);
    std::size_t c = b == std::string::npos ? b : text.find('\n', b + 1);
    if (c == std::string::npos) {
        return false;
    }
    e.origin = text.substr(0, a);
    e.topic = text.substr(a + 1, b - a - 1);
    Poco::Int64 t = 0;
    if (e.origin.empty() || e.topic.empty() ||
        !Poco::NumberParser::tryParse64(text.substr(b + 1, c - b - 1), t)) {
        return false;
    }
    e.timeMs = t;
    e.payload = text.substr(c + 1);
    return true;
}

void authenticate(RespClient& client, const RedisUrl& url) {
    if (url.password.empty()) {
        return;
    }
    RespReply r = client.command({"AUTH", url.password}, kReplyTimeout);
    if (r.type == '-') {
        throw Poco::Exception("AUTH refused: " + r.text);
    }
}

}  // namespace

RedisUrl RedisUrl::parse(const std::string& url) {
    RedisUrl u;
    std::string rest = url.substr(8);  // after redis://
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest.resize(q);
    }
    if (!rest.empty() && rest.back() == '/') {
        rest.pop_back();
    }
    if (rest.find('/') != std::string::npos) {
        throw BusError("bus.url: a path (database number) means nothing for pub/sub in '" +
                       std::string("redis://") + rest.substr(rest.rfind('@') + 1) +
                       "'; use redis://host:port");
    }
    if (auto at = rest.rfind('@'); at != std::string::npos) {
        std::string userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userinfo.find(':');
        try {
            Poco::URI::decode(colon == std::string::npos ? userinfo : userinfo.substr(colon + 1),
                              u.password);
        } catch (const Poco::Exception&) {
            throw BusError("bus.url: the password has a bad percent-escape");
        }
    }
    auto colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
        unsigned port = 0;
        std::string p = rest.substr(colon + 1);
        if (!Poco::NumberParser::tryParseUnsigned(p, port) || port < 1 || port > 65535) {
            throw BusError("bus.url: the port must be a number from 1 to 65535, got '" + p + "'");
        }
        u.port = static_cast<int>(port);
    }
    if (u.host.empty()) {
        throw BusError("bus.url: redis URL names no host (expected redis://host:port)");
    }
    std::size_t start = 0;
    while (start < query.size()) {
        std::size_t end = std::min(query.find('&', start), query.size());
        std::string pair = query.substr(start, end - start);
        start = end + 1;
        auto eq = pair.find('=');
        std::string key = pair.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : pair.substr(eq + 1);
        if (key == "channel") {
            if (value.empty() || value.size() > 200 ||
                value.find_first_of(" \r\n\t") != std::string::npos) {
                throw BusError("bus.url: channel must be 1 to 200 characters without spaces");
            }
            u.channel = value;
        } else if (key == "node_timeout") {
            if (!parseTimeout(value, u.nodeTimeout)) {
                throw BusError(
                    "bus.url: node_timeout must be a duration from 100ms to 600s "
                    "(e.g. 2s or 500ms), got '" +
                    value + "'");
            }
        } else if (!pair.empty()) {
            throw BusError("bus.url: unknown parameter '" + key +
                           "' (known: channel, node_timeout)");
        }
    }
    return u;
}

std::string RedisUrl::location() const {
    return "redis://" + host + ":" + std::to_string(port) + " channel " + channel;
}

RedisBus::RedisBus(RedisUrl url, std::size_t queueSize, std::chrono::milliseconds connectWait)
    : _url(std::move(url)), _nodeId(randomNodeId()), _capacity(queueSize), _local(queueSize) {
    logger().information("bus: %s as node %s", _url.location(), _nodeId);
    _publisher = std::thread([this] {
        nameThisThread("sb-redis-pub");
        runPublisher();
    });
    _subscriber = std::thread([this] {
        nameThisThread("sb-redis-sub");
        runSubscriber();
    });
    auto deadline = std::chrono::steady_clock::now() + connectWait;
    while (std::chrono::steady_clock::now() < deadline && !(_pubConnected && _subConnected)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!(_pubConnected && _subConnected)) {
        logger().warning("bus: %s not reachable yet; not ready until it is", _url.location());
    }
}

RedisBus::~RedisBus() {
    stop();
}

void RedisBus::publish(const std::string& topic, std::string payloadJson) {
    Event event{topic, payloadJson, epochMillis(), {}};
    _local.publish(topic, std::move(payloadJson));
    if (topic.find('\n') != std::string::npos) {
        _dropped.fetch_add(1, std::memory_order_relaxed);  // cannot be framed; never happens
        return;
    }
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping || !_pubConnected || _outbound.size() >= _capacity) {
            _dropped.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        _outbound.push_back(frame(_nodeId, event));
    }
    _wake.notify_one();
}

std::uint64_t RedisBus::subscribeAs(const std::string& owner, const std::string& pattern,
                                    Handler handler) {
    return _local.subscribeAs(owner, pattern, std::move(handler));
}

void RedisBus::unsubscribe(std::uint64_t id) {
    _local.unsubscribe(id);
}

BusStats RedisBus::stats() const {
    BusStats s = _local.stats();
    s.dropped += _dropped.load();
    return s;
}

RedisBus::RedisStats RedisBus::redisStats() const {
    RedisStats r;
    r.sent = _sent.load();
    r.received = _received.load();
    r.own = _own.load();
    r.dropped = _dropped.load();
    r.reconnects = _reconnects.load();
    r.connected = _pubConnected && _subConnected;
    std::lock_guard<std::mutex> lock(_nodesMutex);
    for (const auto& [id, state] : _nodes) {
        r.nodesUp += state.down ? 0 : 1;
    }
    return r;
}

void RedisBus::watchNode(const std::string& nodeId) {
    if (nodeId.empty() || nodeId == _nodeId) {
        return;
    }
    std::lock_guard<std::mutex> lock(_nodesMutex);
    _nodes.emplace(nodeId, NodeState{std::chrono::steady_clock::now(), false});
}

void RedisBus::heard(const std::string& node) {
    bool up = false;
    {
        std::lock_guard<std::mutex> lock(_nodesMutex);
        auto [it, added] = _nodes.emplace(node, NodeState{});
        up = added || it->second.down;
        it->second.lastHeard = std::chrono::steady_clock::now();
        it->second.down = false;
    }
    if (up) {
        logger().information("bus: node %s is up", node);
        _local.inject(
            Event{"bus.node_up", "{\"node\":" + json::quote(node) + "}", epochMillis(), {}});
    }
}

void RedisBus::checkNodes() {
    auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, Poco::Int64>> lost;
    {
        std::lock_guard<std::mutex> lock(_nodesMutex);
        for (auto& [id, state] : _nodes) {
            auto silent =
                std::chrono::duration_cast<std::chrono::milliseconds>(now - state.lastHeard);
            if (!state.down && silent >= _url.nodeTimeout) {
                state.down = true;
                lost.emplace_back(id, static_cast<Poco::Int64>(silent.count()));
            }
        }
    }
    for (const auto& [id, silent] : lost) {
        logger().warning("bus: node %s is down (silent for %Ld ms)", id, silent);
        _local.inject(
            Event{"bus.node_down",
                  "{\"node\":" + json::quote(id) + ",\"silent_ms\":" + std::to_string(silent) + "}",
                  epochMillis(),
                  {}});
    }
}

void RedisBus::refreshNodes() {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(_nodesMutex);
    for (auto& [id, state] : _nodes) {
        state.lastHeard = now;
    }
}

bool RedisBus::ready(std::string& reason) const {
    if (_pubConnected && _subConnected) {
        return true;
    }
    std::lock_guard<std::mutex> lock(_errorMutex);
    reason = "bus: " + _url.location() + " unreachable" +
             (_lastError.empty() ? std::string() : ": " + _lastError);
    return false;
}

void RedisBus::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_stopping) {
            return;
        }
        _stopping = true;
    }
    _wake.notify_all();
    if (_publisher.joinable()) {
        _publisher.join();
    }
    if (_subscriber.joinable()) {
        _subscriber.join();
    }
    _local.stop();
}

bool RedisBus::pause(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(_mutex);
    return !_wake.wait_for(lock, delay, [this] { return _stopping; });
}

void RedisBus::runPublisher() {
    RespClient client;
    auto backoff = kBackoffFirst;
    bool everConnected = false;
    const auto beat =
        std::max<std::chrono::milliseconds>(_url.nodeTimeout / 4, std::chrono::milliseconds(25));
    auto nextBeat = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            if (_stopping) {
                break;
            }
        }
        if (!client.connected()) {
            try {
                client.connect(_url.host, _url.port, kConnectTimeout);
                authenticate(client, _url);
                _pubConnected = true;
                if (everConnected) {
                    ++_reconnects;
                    logger().notice("bus: publisher reconnected to %s", _url.location());
                }
                everConnected = true;
                backoff = kBackoffFirst;
            } catch (const Poco::Exception& e) {
                client.close();
                {
                    std::lock_guard<std::mutex> lock(_errorMutex);
                    _lastError = e.displayText();
                }
                if (!pause(backoff)) {
                    break;
                }
                backoff = std::min(backoff * 2, kBackoffMax);
                continue;
            }
        }
        std::vector<std::string> batch;
        {
            std::unique_lock<std::mutex> lock(_mutex);
            _wake.wait_until(lock, nextBeat, [this] { return _stopping || !_outbound.empty(); });
            if (_stopping && _outbound.empty()) {
                break;
            }
            while (!_outbound.empty() && batch.size() < kBatch) {
                batch.push_back(std::move(_outbound.front()));
                _outbound.pop_front();
            }
        }
        // The heartbeat goes last in the batch; it is not counted as an event.
        std::size_t events = batch.size();
        if (auto now = std::chrono::steady_clock::now(); now >= nextBeat) {
            batch.push_back(frame(_nodeId, Event{kHeartbeat, "{}", epochMillis(), {}}));
            nextBeat = now + beat;
        }
        if (batch.empty()) {
            continue;
        }
        try {
            for (const std::string& message : batch) {
                client.append({"PUBLISH", _url.channel, message});
            }
            client.flush();
            for (std::size_t i = 0; i < batch.size(); ++i) {
                RespReply reply;
                if (!client.read(reply, kReplyTimeout)) {
                    throw Poco::TimeoutException("no reply to PUBLISH");
                }
                if (reply.type == '-') {
                    throw Poco::Exception("PUBLISH refused: " + reply.text);
                }
                if (i < events) {
                    ++_sent;
                }
            }
        } catch (const Poco::Exception& e) {
            std::uint64_t lost = events;
            _dropped += lost;
            _pubConnected = false;
            client.close();
            {
                std::lock_guard<std::mutex> lock(_errorMutex);
                _lastError = e.displayText();
            }
            std::size_t queued = 0;
            {
                std::lock_guard<std::mutex> lock(_mutex);
                queued = _outbound.size();
                _dropped += queued;
                _outbound.clear();
            }
            logger().warning("bus: lost %s (%s); %z event(s) dropped, reconnecting",
                             _url.location(), e.displayText(),
                             static_cast<std::size_t>(lost + queued));
        }
    }
    _pubConnected = false;
    client.close();
}

void RedisBus::runSubscriber() {
    RespClient client;
    auto backoff = kBackoffFirst;
    bool everConnected = false;
    auto nextCheck = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            if (_stopping) {
                break;
            }
        }
        try {
            if (!client.connected()) {
                client.connect(_url.host, _url.port, kConnectTimeout);
                authenticate(client, _url);
                RespReply r = client.command({"SUBSCRIBE", _url.channel}, kReplyTimeout);
                if (r.type != '*' || r.items.size() != 3 || r.items[0].text != "subscribe") {
                    throw Poco::ProtocolException("SUBSCRIBE refused: " + r.text);
                }
                _subConnected = true;
                refreshNodes();
                if (everConnected) {
                    ++_reconnects;
                    logger().notice("bus: subscriber reconnected to %s", _url.location());
                    // Events of the other nodes may have been missed meanwhile: plugins that
                    // keep cross-node state can resync on this.
                    _local.inject(Event{
                        "bus.reconnected", "{\"node\":\"" + _nodeId + "\"}", epochMillis(), {}});
                }
                everConnected = true;
                backoff = kBackoffFirst;
            }
            if (auto now = std::chrono::steady_clock::now(); now >= nextCheck) {
                checkNodes();
                nextCheck = now + kNodeCheck;
            }
            RespReply reply;
            if (!client.read(reply, kReadPoll)) {
                continue;  // checks _stopping
            }
            if (reply.type != '*' || reply.items.size() != 3 || reply.items[0].text != "message") {
                continue;  // e.g. a subscribe confirmation
            }
            Event event;
            if (!unframe(reply.items[2].text, event)) {
                logger().warning("bus: ignored a malformed message on %s", _url.channel);
                continue;
            }
            if (event.origin == _nodeId) {
                _own += event.topic == kHeartbeat ? 0 : 1;
                continue;
            }
            heard(event.origin);
            if (event.topic == kHeartbeat) {
                continue;
            }
            if (_local.inject(std::move(event))) {
                ++_received;
            } else {
                ++_dropped;
            }
        } catch (const Poco::Exception& e) {
            bool was = _subConnected.exchange(false);
            client.close();
            {
                std::lock_guard<std::mutex> lock(_errorMutex);
                _lastError = e.displayText();
            }
            if (was) {
                logger().warning("bus: subscriber lost %s (%s), reconnecting", _url.location(),
                                 e.displayText());
            }
            if (!pause(backoff)) {
                break;
            }
            backoff = std::min(backoff * 2, kBackoffMax);
        }
    }
    _subConnected = false;
    client.close();
}

void RedisBus::registerBackendMetrics(MetricsRegistry& metrics) const {
    metrics.addCollector([this](std::string& out) {
        RedisStats r = redisStats();
        out +=
            "# HELP switchboard_bus_redis_connected 1 while the node is connected to Redis "
            "(publisher and subscriber)\n"
            "# TYPE switchboard_bus_redis_connected gauge\nswitchboard_bus_redis_connected " +
            std::string(r.connected ? "1" : "0") + "\n";
        out +=
            "# HELP switchboard_bus_redis_messages_total Events through Redis: sent, received "
            "from other nodes, own (ignored when they come back), dropped\n"
            "# TYPE switchboard_bus_redis_messages_total counter\n";
        out +=
            "switchboard_bus_redis_messages_total{kind=\"sent\"} " + std::to_string(r.sent) + "\n";
        out += "switchboard_bus_redis_messages_total{kind=\"received\"} " +
               std::to_string(r.received) + "\n";
        out += "switchboard_bus_redis_messages_total{kind=\"own\"} " + std::to_string(r.own) + "\n";
        out += "switchboard_bus_redis_messages_total{kind=\"dropped\"} " +
               std::to_string(r.dropped) + "\n";
        out +=
            "# HELP switchboard_bus_redis_reconnects_total Connections to Redis re-established "
            "after a failure\n"
            "# TYPE switchboard_bus_redis_reconnects_total counter\n"
            "switchboard_bus_redis_reconnects_total " +
            std::to_string(r.reconnects) + "\n";
        out +=
            "# HELP switchboard_bus_redis_nodes_up Other nodes heard within the node timeout\n"
            "# TYPE switchboard_bus_redis_nodes_up gauge\nswitchboard_bus_redis_nodes_up " +
            std::to_string(r.nodesUp) + "\n";
    });
}

}  // namespace switchboard
