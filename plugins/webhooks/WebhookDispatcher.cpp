// The delivery queue (see WebhookDispatcher.h).
#include "WebhookDispatcher.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>
#include <sys/socket.h>

#include <algorithm>

#include "switchboard/Json.h"
#include "switchboard/ThreadName.h"

namespace switchboard::webhooks {

namespace {

double epochSeconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A status worth another attempt: no answer, a timeout, a server error or "slow down".
bool retryable(const AttemptResult& r) {
    return r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(std::size_t queueSize, std::size_t threads,
                                     std::size_t history, Poco::Logger& logger)
    : _queueSize(queueSize), _threadCount(threads), _history(history), _logger(logger) {}

WebhookDispatcher::~WebhookDispatcher() {
    stop();
}

void WebhookDispatcher::setCounters(const std::string& hook, HookCounters counters) {
    std::lock_guard<std::mutex> lock(_mutex);
    _counters[hook] = counters;
}

bool WebhookDispatcher::enqueue(std::shared_ptr<const HookConfig> hook, const std::string& topic,
                                const std::string& payload, std::int64_t timeMs) {
    auto d = std::make_shared<Delivery>();
    d->hook = std::move(hook);
    d->topic = topic;
    d->timestamp = timeMs / 1000;
    d->id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    d->body = "{\"id\":" + json::quote(d->id) + ",\"hook\":" + json::quote(d->hook->name) +
              ",\"topic\":" + json::quote(topic) +
              ",\"timestamp\":" + std::to_string(d->timestamp) + ",\"payload\":" + payload + "}";
    d->nextBackoff = d->hook->backoff;
    std::lock_guard<std::mutex> lock(_mutex);
    auto counters = _counters.find(d->hook->name);
    if (_waiting.size() >= _queueSize) {
        if (counters != _counters.end()) {
            counters->second.dropped->inc();
        }
        return false;
    }
    d->due = std::chrono::steady_clock::now();
    _waiting.emplace(d->due, d);
    remember(d);
    _wake.notify_one();
    return true;
}

void WebhookDispatcher::remember(const std::shared_ptr<Delivery>& d) {
    _recent.push_front(d);
    while (_recent.size() > _history) {
        _recent.pop_back();
    }
}

void WebhookDispatcher::start() {
    std::lock_guard<std::mutex> lock(_mutex);
    _stopping = false;
    for (std::size_t i = _threads.size(); i < _threadCount; ++i) {
        _threads.emplace_back([this, i] {
            nameThisThread("sb-webhook-" + std::to_string(i));
            run();
        });
    }
}

void WebhookDispatcher::stop() {
    std::vector<std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
        for (int fd : _sockets) {
            ::shutdown(fd, SHUT_RDWR);  // a hanging receiver does not hold the stop
        }
        threads.swap(_threads);
    }
    _wake.notify_all();
    for (auto& t : threads) {
        t.join();
    }
    std::lock_guard<std::mutex> lock(_mutex);
    if (!_waiting.empty()) {
        _logger.warning("stopping with %z webhook deliveries not made", _waiting.size());
    }
    for (auto& [due, d] : _waiting) {
        d->state = "abandoned";
    }
    _waiting.clear();
}

void WebhookDispatcher::run() {
    std::unique_lock<std::mutex> lock(_mutex);
    while (!_stopping) {
        if (_waiting.empty()) {
            _wake.wait(lock);
            continue;
        }
        auto first = _waiting.begin();
        if (first->first > std::chrono::steady_clock::now()) {
            // A copy: wait_until reads the time again after waking, when another worker may
            // have taken (and freed) that entry meanwhile (ASan found it).
            const std::chrono::steady_clock::time_point due = first->first;
            _wake.wait_until(lock, due);
            continue;
        }
        std::shared_ptr<Delivery> d = first->second;
        _waiting.erase(first);
        d->state = "delivering";
        d->attempts += 1;
        d->lastAttemptAt = epochSeconds();
        if (d->attempts == 1) {
            d->firstAttempt = std::chrono::steady_clock::now();
            d->firstAttemptAt = d->lastAttemptAt;
        }
        ++_delivering;
        lock.unlock();
        int socket = -1;
        AttemptResult result =
            _sender.post(*d->hook, d->id, d->topic, d->timestamp, d->body, [&](int fd) {
                std::lock_guard<std::mutex> guard(_mutex);
                if (fd >= 0) {
                    socket = fd;
                    _sockets.insert(fd);
                    if (_stopping) {
                        ::shutdown(fd, SHUT_RDWR);
                    }
                } else if (socket >= 0) {
                    _sockets.erase(socket);
                }
            });
        lock.lock();
        --_delivering;
        settle(d, result);
    }
}

void WebhookDispatcher::settle(const std::shared_ptr<Delivery>& d, const AttemptResult& r) {
    d->lastStatus = r.status;
    d->lastError = r.error;
    auto counters = _counters.find(d->hook->name);
    if (r.status >= 200 && r.status < 300) {
        d->state = "delivered";
        if (counters != _counters.end()) {
            counters->second.delivered->inc();
        }
        return;
    }
    auto now = std::chrono::steady_clock::now();
    std::string why = r.status ? "HTTP " + std::to_string(r.status) : r.error;
    if (!_stopping && retryable(r) && now + d->nextBackoff <= d->firstAttempt + d->hook->retryFor) {
        d->state = "retrying";
        d->due = now + d->nextBackoff;
        d->nextBackoff = std::min(d->nextBackoff * 2, d->hook->maxBackoff);
        _waiting.emplace(d->due, d);
        if (counters != _counters.end()) {
            counters->second.retries->inc();
        }
        _logger.information("webhook %s: %s for %s (attempt %d), retrying", d->hook->name, why,
                            d->topic, d->attempts);
        return;
    }
    d->state = "failed";
    if (counters != _counters.end()) {
        counters->second.failed->inc();
    }
    _logger.warning("webhook %s: %s for %s after %d attempt(s), given up", d->hook->name, why,
                    d->topic, d->attempts);
}

std::size_t WebhookDispatcher::queued() {
    std::lock_guard<std::mutex> lock(_mutex);
    return _waiting.size();
}

std::string WebhookDispatcher::describe(const std::vector<std::shared_ptr<const HookConfig>>& hooks,
                                        std::size_t offset, std::size_t limit) {
    std::lock_guard<std::mutex> lock(_mutex);
    rapidjson::StringBuffer buffer;
    json::Writer w(buffer);
    w.StartObject();
    w.Key("queued");
    w.Uint64(_waiting.size());
    w.Key("delivering");
    w.Uint64(_delivering);
    w.Key("hooks");
    w.StartArray();
    for (const auto& h : hooks) {
        w.StartObject();
        json::writeString(w, "name", h->name);
        json::writeString(w, "url", h->displayUrl);
        w.Key("topics");
        w.StartArray();
        for (const auto& t : h->topics) {
            w.String(t.c_str(), static_cast<rapidjson::SizeType>(t.size()));
        }
        w.EndArray();
        auto c = _counters.find(h->name);
        for (const char* key : {"delivered", "failed", "dropped", "retries"}) {
            w.Key(key);
            Counter* counter = nullptr;
            if (c != _counters.end()) {
                std::string k = key;
                counter = k == "delivered" ? c->second.delivered
                          : k == "failed"  ? c->second.failed
                          : k == "dropped" ? c->second.dropped
                                           : c->second.retries;
            }
            w.Uint64(counter ? counter->value() : 0);
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("total");
    w.Uint64(_recent.size());
    w.Key("offset");
    w.Uint64(offset);
    w.Key("limit");
    w.Uint64(limit);
    w.Key("deliveries");
    w.StartArray();
    for (std::size_t i = offset; i < _recent.size() && i < offset + limit; ++i) {
        const Delivery& d = *_recent[i];
        w.StartObject();
        json::writeString(w, "id", d.id);
        json::writeString(w, "hook", d.hook->name);
        json::writeString(w, "topic", d.topic);
        json::writeString(w, "state", d.state);
        w.Key("attempts");
        w.Int(d.attempts);
        w.Key("status");
        if (d.lastStatus) {
            w.Int(d.lastStatus);
        } else {
            w.Null();
        }
        json::writeStringOrNull(w, "error", d.lastError);
        json::writeTimeOrNull(w, "first_attempt_at", d.firstAttemptAt);
        json::writeTimeOrNull(w, "last_attempt_at", d.lastAttemptAt);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return buffer.GetString();
}

}  // namespace switchboard::webhooks
