// Host configuration schema and parsing (see HostConfig.h).
#include "config/HostConfig.h"

#include <Poco/Path.h>

#include "admin/AdminHosts.h"
#include "config/ConfigDocument.h"
#include "net/TrustedProxies.h"

namespace switchboard {

namespace {

ConfigSchema buildSchema() {
    ConfigSchema root;
    ConfigSchema& server = root.section("server", "Process-wide settings");
    server
        .string("data_dir", "var",
                "Directory for the database, keys, tokens and generated "
                "certificates (relative to the working directory)")
        .stringList("plugin_dirs",
                    "Directories searched for switchboard-<name>.so, in order "
                    "(default: <binary dir>/plugins, <binary dir>/../lib/switchboard)")
        .stringList("trusted_proxies",
                    "Proxy addresses or CIDR blocks (127.0.0.1, 10.0.0.0/8, "
                    "::1) whose X-Forwarded-For header names the client "
                    "address, for every plugin")
        .integer("event_threads", 2, 1, 64,
                 "Event-loop threads serving every connection (HTTP, WebSocket, stream)")
        .size("max_buffered_bytes", "256MiB",
              "Request body bytes held in memory across all connections; a request that "
              "would pass it gets 503 with Retry-After")
        .atLeast("64KiB")
        .integer("work_threads", 4, 1, 256,
                 "Work-pool threads for blocking work started by plugins from event loops "
                 "(password hashing, store writes)")
        .integer("work_queue", 10000, 0, 10000000,
                 "Work-pool tasks that may wait for a thread; beyond it new work is refused")
        .duration("shutdown_timeout", "10s", "How long a stop waits for in-flight requests")
        .atLeast("1ms");
    server.section("log", "Logging")
        .choice(
            "level", "information",
            {"fatal", "critical", "error", "warning", "notice", "information", "debug", "trace"},
            "Lowest level written")
        .choice("format", "text", {"text", "json"}, "text lines or JSON lines")
        .string("file", "", "Log file (empty: standard error)");
    server
        .section("access_log",
                 "One line per HTTP request: time, listener, client address, method, path, "
                 "status, bytes sent, duration. Reopened on SIGHUP and reload (logrotate)")
        .string("file", "", "Access log file (empty: no access log)")
        .choice("format", "text", {"text", "json"},
                "text (space-separated fields) or JSON lines "
                "({\"ts\",\"listener\",\"method\",\"path\",\"status\",\"bytes\","
                "\"duration_ms\",\"client\"})")
        .integer("queue", 65536, 16, 10000000,
                 "Lines waiting for the writer thread; beyond, lines are dropped and counted "
                 "(switchboard_access_log_dropped_total)");

    root.section("store", "Storage")
        .string("url", "sqlite:var/switchboard.db", "sqlite:<path> or postgresql://...")
        .duration("flush_interval", "1s",
                  "Period of write-behind flushes: an update is written at most this plus one "
                  "flush round (switchboard_store_flush_round_seconds_max) later")
        .atLeast("1ms");
    root.section("bus", "Event bus")
        .string("url", "local", "local (in-process) or redis://host:port")
        .integer("queue_size", 10000, 16, 10000000, "Events queued before new ones are dropped");

    ConfigSchema& listener = root.sectionMap("listeners", "Ports, one protocol each");
    listener.string("bind", "0.0.0.0", "Address to bind")
        .integer("port", 1, 1, 65535, "TCP port")
        .required()
        .choice("protocol", "auto", {"auto", "http", "stream"},
                "http (HTTP/1.1 + WebSocket), stream (TLS TCP frames) or auto (what is mounted)")
        .integer("threads", 32, 1, 4096,
                 "Handler threads: requests whose handlers run at once (connections, idle or "
                 "slow, hold no thread)")
        .size("max_body", "4MiB", "Largest request body accepted (413 as soon as declared)")
        .atLeast("1B")
        .duration("request_timeout", "15s",
                  "Time allowed to receive a whole request (head and body, 408 beyond) and to "
                  "finish a TLS handshake; also how long a fresh connection may stay silent")
        .atLeast("1ms")
        .duration("keepalive_timeout", "5s",
                  "Idle time before a keep-alive connection closes (0: never)")
        .integer("max_connections", 20000, 1, 10000000,
                 "Open connections on this listener; beyond, 503 and close")
        .integer("max_connections_per_address", 1024, 1, 10000000,
                 "Open connections from one client address (trusted proxies exempt); beyond, "
                 "503 and close");
    listener.section("tls", "TLS; enabled when cert is set")
        .string("cert", "",
                "PEM certificate (chain); generated self-signed if it and key are "
                "both missing")
        .string("key", "", "PEM private key")
        .string("ca", "", "CA file: when set, clients must present a certificate it signed");
    listener.section("websocket", "WebSocket connections on this listener")
        .size("max_message", "64KiB", "Largest message accepted (close 1009 beyond)")
        .between("1B", "1GiB")
        .size("max_outbound", "1MiB",
              "Bytes queued for one peer; beyond (a peer that does not read), it is closed")
        .atLeast("1KiB")
        .duration("idle_timeout", "60s",
                  "Close after this long without a frame from the peer, pongs included "
                  "(0: never)")
        .duration("ping_interval", "20s",
                  "Send a ping after this long without a frame from the peer, so that live "
                  "peers answer before idle_timeout (0: never)")
        .duration("io_timeout", "5s",
                  "Close a peer that leaves a frame half-sent, or takes none of the bytes "
                  "queued for it, for this long")
        .atLeast("1ms");

    listener.section("stream", "Stream (TLS TCP) connections on this listener")
        .duration("idle_timeout", "300s",
                  "Close after this long without data either way: none from the peer and none "
                  "written to it (0: never)")
        .duration("io_timeout", "5s",
                  "Time allowed for the TLS handshake, and for a peer that takes none of the "
                  "bytes queued for it")
        .atLeast("1ms")
        .size("max_outbound", "1MiB",
              "Bytes queued for one peer; beyond (a peer that does not read), it is closed")
        .atLeast("1KiB");

    ConfigSchema& admin =
        root.section("admin", "Admin API and console")
            .string("token", "", "Bearer token; generated into <data_dir>/admin-token when empty")
            .string("listener", "admin", "Listener serving /admin/api, /metrics and the console")
            .stringList("allowed_hosts",
                        "Host names the admin listener answers besides its bind address, "
                        "localhost, 127.0.0.1 and [::1] (name: bare or with the listener's port; "
                        "name:port: that port); any other Host gets 421 (DNS rebinding)")
            .duration("session_ttl", "12h",
                      "Lifetime of a console session (cookie from POST /admin/api/session)")
            .atLeast("1s")
            .duration("history_interval", "10s",
                      "How often the per-route request history of the console's charts is "
                      "sampled (/admin/api/metrics/history; read at start)")
            .atLeast("1s")
            .duration("history_window", "15m", "How far back that history reaches (read at start)")
            .atLeast("1s");
    admin.section("rate_limit", "Failed admin token attempts (429 with Retry-After beyond)")
        .integer("per_address", 10, 0, 1000000,
                 "Failed attempts per client address per window (0: no limit); there is no "
                 "total, so nobody can lock everyone out")
        .duration("window", "60s", "Length of the counting window")
        .atLeast("1ms");
    root.section("audit", "Audit log of admin actions and security events (GET /admin/api/audit)")
        .duration("retention", "90d",
                  "How long entries are kept; older ones are deleted at start and then every "
                  "retention or hour, whichever is shorter")
        .atLeast("1s");
    root.section("lua", "Lua hooks")
        .stringList("scripts", "Lua files loaded in order")
        .integer("instruction_budget", 1000000, 1000, 1000000000,
                 "Instructions one hook call may spend (library work is charged too)")
        .size("memory_limit", "32MiB", "Memory one Lua state may use")
        .atLeast("1MiB");
    root.any("plugins", "Plugins by name: each key loads switchboard-<name>.so");
    return root;
}

std::string absolute(const std::string& path, const std::string& workDir) {
    if (path.empty()) {
        return path;
    }
    Poco::Path p(path);
    return p.isAbsolute() ? path : Poco::Path(workDir).resolve(p).toString();
}

}  // namespace

const ConfigSchema& HostConfig::schema() {
    static const ConfigSchema schema = buildSchema();
    return schema;
}

HostConfig HostConfig::parse(const ConfigDocument& doc, const std::string& workDir,
                             std::vector<std::string>& errors) {
    ConfigSection root = doc.validate("", schema(), errors);
    HostConfig c;
    c.file = doc.fileName();
    try {
        c.dataDir = absolute(root.getString("server.data_dir"), workDir);
        for (const auto& dir : root.getStringList("server.plugin_dirs")) {
            c.pluginDirs.push_back(absolute(dir, workDir));
        }
        auto proxies = std::make_shared<TrustedProxies>();
        for (const auto& entry : root.getStringList("server.trusted_proxies")) {
            std::string problem;
            if (!proxies->add(entry, problem)) {
                errors.push_back(root.error("server.trusted_proxies", problem).what());
            }
        }
        c.trustedProxies = std::move(proxies);
        c.eventThreads = static_cast<std::size_t>(root.getInt("server.event_threads"));
        c.workThreads = static_cast<std::size_t>(root.getInt("server.work_threads"));
        c.workQueue = static_cast<std::size_t>(root.getInt("server.work_queue"));
        c.maxBufferedBytes = root.getSize("server.max_buffered_bytes");
        c.shutdownTimeout = root.getDuration("server.shutdown_timeout");
        c.logLevel = root.getString("server.log.level");
        c.logFormat = root.getString("server.log.format");
        c.logFile = absolute(root.getString("server.log.file"), workDir);
        c.accessLogFile = absolute(root.getString("server.access_log.file"), workDir);
        c.accessLogFormat = root.getString("server.access_log.format");
        c.accessLogQueue = static_cast<std::size_t>(root.getInt("server.access_log.queue"));
        c.storeUrl = root.getString("store.url");
        c.flushInterval = root.getDuration("store.flush_interval");
        c.busUrl = root.getString("bus.url");
        c.busQueue = static_cast<std::size_t>(root.getInt("bus.queue_size"));
        c.adminToken = root.getString("admin.token");
        c.adminListener = root.getString("admin.listener");
        for (const auto& entry : root.getStringList("admin.allowed_hosts")) {
            std::string problem = AdminHosts::entryProblem(entry);
            if (!problem.empty()) {
                errors.push_back(root.error("admin.allowed_hosts", problem).what());
            }
            c.adminAllowedHosts.push_back(entry);
        }
        c.adminSessionTtl = root.getDuration("admin.session_ttl");
        c.adminHistoryInterval = root.getDuration("admin.history_interval");
        c.adminHistoryWindow = root.getDuration("admin.history_window");
        c.adminFailuresPerAddress =
            static_cast<std::uint64_t>(root.getInt("admin.rate_limit.per_address"));
        c.adminFailureWindow = root.getDuration("admin.rate_limit.window");
        c.auditRetention = root.getDuration("audit.retention");
        for (const auto& script : root.getStringList("lua.scripts")) {
            c.luaScripts.push_back(absolute(script, workDir));
        }
        c.luaInstructionBudget = static_cast<std::uint64_t>(root.getInt("lua.instruction_budget"));
        c.luaMemoryLimit = root.getSize("lua.memory_limit");
        c.luaFingerprint = root.section("lua").fingerprint();
        for (const auto& name : root.sectionNames("listeners")) {
            ConfigSection l = root.section("listeners." + name);
            ListenerOptions o;
            o.name = name;
            o.bind = l.getString("bind");
            o.port = static_cast<std::uint16_t>(l.getInt("port"));
            o.protocol = l.getString("protocol");
            o.threads = static_cast<int>(l.getInt("threads"));
            o.maxBody = l.getSize("max_body");
            o.requestTimeout = l.getDuration("request_timeout");
            o.keepAliveTimeout = l.getDuration("keepalive_timeout");
            o.tls.cert = absolute(l.getString("tls.cert"), workDir);
            o.tls.key = absolute(l.getString("tls.key"), workDir);
            o.tls.ca = absolute(l.getString("tls.ca"), workDir);
            o.tls.enabled = !o.tls.cert.empty();
            if (o.tls.enabled && o.tls.key.empty()) {
                errors.push_back(l.error("tls.key", "required when tls.cert is set").what());
            }
            o.webSocket.maxMessage = l.getSize("websocket.max_message");
            o.webSocket.idleTimeout = l.getDuration("websocket.idle_timeout");
            o.webSocket.pingInterval = l.getDuration("websocket.ping_interval");
            o.webSocket.maxOutbound = l.getSize("websocket.max_outbound");
            o.streamMaxOutbound = l.getSize("stream.max_outbound");
            o.maxConnections = static_cast<std::size_t>(l.getInt("max_connections"));
            o.maxConnectionsPerAddress =
                static_cast<std::size_t>(l.getInt("max_connections_per_address"));
            o.webSocket.ioTimeout = l.getDuration("websocket.io_timeout");
            o.streamIdleTimeout = l.getDuration("stream.idle_timeout");
            o.streamIoTimeout = l.getDuration("stream.io_timeout");
            c.listeners[name] = o;
        }
    } catch (const ConfigError& e) {
        errors.push_back(e.what());  // only reachable when validation already failed
    }
    if (!c.listeners.count(c.adminListener)) {
        errors.push_back(doc.location("admin.listener") + ": admin.listener: no listener named '" +
                         c.adminListener + "'");
    }
    c.pluginNames = doc.keys("plugins");
    return c;
}

}  // namespace switchboard
