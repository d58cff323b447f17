// Auth plugin lifecycle (see AuthPlugin.h).
#include "AuthPlugin.h"

#include <Poco/Logger.h>

#include "switchboard/Clock.h"
#include "switchboard/Json.h"

namespace switchboard::auth {

namespace {
/// Expired revocations and reset tokens are purged at most this often.
constexpr std::int64_t kPurgeEveryS = 300;
}  // namespace

void AuthPlugin::configure(const ConfigSection& config) {
    _config = std::make_shared<const AuthConfig>(AuthConfig::parse(config));
    _routes = std::make_unique<AuthRoutes>(_config);
}

void AuthPlugin::start(HostContext& context) {
    _context = &context;
    Poco::Logger& log = context.logger();
    _store = std::make_unique<AuthStore>(context.store());
    _hasher = std::make_unique<PasswordHasher>(_config->hashMemory, _config->hashPasses,
                                               _config->hashParallel);
    std::string secret = TokenService::resolveSecret(_config->jwtSecret, context.dataDir(), log);
    _tokens = std::make_unique<TokenService>(secret, _config->jwtAlgorithm, _config->jwtTtl,
                                             _config->jwtLeeway, *_store);
    _tokens->load();
    _sessions = std::make_unique<SessionManager>(_config, *_store, *_tokens, context);
    _sessions->load();
    _mailer = std::make_unique<Mailer>(_config, log, context.metrics());
    _accounts = std::make_shared<AccountService>(_config, *_store, *_hasher, *_tokens, *_sessions,
                                                 *_mailer, context);
    _accounts->syncCredentials();
    _mailer->start();

    Metrics& m = context.metrics();
    m.gauge("sessions_active", "Live cookie sessions",
            [this] { return static_cast<double>(_sessions->count()); });
    m.gauge("hash_queue", "Password hashes waiting for a slot",
            [this] { return static_cast<double>(_hasher->waiting()); });
    m.gauge("revoked_tokens", "Revoked JWT ids remembered until they expire",
            [this] { return static_cast<double>(_tokens->revokedCount()); });
    m.gauge("mail_queue", "Mails waiting to be sent",
            [this] { return static_cast<double>(_mailer->queued()); });

    subscribeToOtherNodes(context);

    _runtime = std::make_unique<Runtime>(
        Runtime{&context, _accounts.get(), _sessions.get(), _tokens.get()});
    _routes->bind(_runtime.get());
    context.services().provide<Accounts>("accounts", _accounts);
    context.every(_config->checkInterval, [this] { sweep(); });
    if (_config->smtpHost.empty()) {
        log.warning(
            "no SMTP server configured (plugins.auth.smtp.host): password reset mails "
            "will not be sent");
    }
    log.information(
        "%?d account(s), %z live session(s); Argon2id %?u KiB, %?u pass(es), "
        "%z at a time",
        _store->userCount(), _sessions->count(), _config->hashMemory / 1024, _config->hashPasses,
        _hasher->parallel());
}

void AuthPlugin::subscribeToOtherNodes(HostContext& context) {
    // Several nodes on one store and a shared bus (docs/decisions.md, "Many nodes"): the store
    // is the truth for accounts and sessions; what each node keeps in memory (live sessions,
    // revoked JWT ids) follows the others' changes through these events. On the in-process
    // bus every event is this node's own (origin ""), so none of this runs.
    EventBus& bus = context.bus();
    _tokens->onRevoked([&bus](const std::string& jti, std::int64_t expires) {
        bus.publish("auth.token_revoked", "{\"jti\":" + json::quote(jti) +
                                              ",\"expires\":" + std::to_string(expires) + "}");
    });
    bus.subscribe("auth.token_revoked", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (!e.origin.empty() && json::parseObject(e.payload, d, error) && d.HasMember("jti") &&
            d["jti"].IsString() && d.HasMember("expires") && d["expires"].IsInt64()) {
            _tokens->remember(d["jti"].GetString(), d["expires"].GetInt64());
        }
    });
    bus.subscribe("session.revoked", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (!e.origin.empty() && json::parseObject(e.payload, d, error) &&
            d.HasMember("session_id") && d["session_id"].IsString()) {
            _sessions->forget(d["session_id"].GetString());
        }
    });
    bus.subscribe("auth.sessions.user_revoked", [this](const Event& e) {
        rapidjson::Document d;
        std::string error;
        if (!e.origin.empty() && json::parseObject(e.payload, d, error) && d.HasMember("user_id") &&
            d["user_id"].IsInt64() && d.HasMember("keep") && d["keep"].IsString() &&
            d.HasMember("reason") && d["reason"].IsString()) {
            _sessions->revokeUser(d["user_id"].GetInt64(), d["reason"].GetString(),
                                  d["keep"].GetString(), false);
        }
    });
    bus.subscribe("bus.reconnected", [this](const Event&) {
        // Events of the other nodes may have been lost: catch up from the store.
        _tokens->load();
        _sessions->resync();
    });
}

void AuthPlugin::stop() {
    // The host has cancelled the sweep timer already (Plugin.h): no sweep runs from here on.
    _context->services().withdraw("accounts");
    if (_accounts) {
        _accounts->shutdown();
    }
    if (_mailer) {
        _mailer->stop();
    }
    _context = nullptr;
}

void AuthPlugin::sweep() {
    _sessions->sweep();
    std::int64_t now = epochMillis() / 1000;
    if (now - _lastPurge >= kPurgeEveryS) {
        _lastPurge = now;
        _tokens->purge(now);
    }
}

}  // namespace switchboard::auth

SWITCHBOARD_PLUGIN(switchboard::auth::AuthPlugin)
