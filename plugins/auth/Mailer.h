// Sends mail (password reset tokens) through SMTP from one background thread, so no HTTP
// response ever waits for a mail server. A bounded queue; one attempt per mail, failures are
// logged and counted.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "AuthConfig.h"
#include "switchboard/Metrics.h"

namespace Poco {
class Logger;
}

namespace switchboard::auth {

struct Mail {
    std::string to;
    std::string subject;
    std::string body;  ///< UTF-8 text
};

class Mailer {
public:
    static constexpr std::size_t kQueueLimit = 1000;

    Mailer(std::shared_ptr<const AuthConfig> config, Poco::Logger& logger, Metrics& metrics);
    /// Calls stop().
    ~Mailer();
    void start();
    /// Stops after the mail being sent (if any); mails still queued are dropped and logged.
    void stop();
    /// Queues a mail; false (logged) if SMTP is not configured or the queue is full.
    bool enqueue(Mail mail);
    /// Mails waiting now.
    std::size_t queued() const;

private:
    void run();
    void send(const Mail& mail);

    std::shared_ptr<const AuthConfig> _config;
    Poco::Logger& _logger;
    Counter& _sent;
    Counter& _failed;
    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<Mail> _queue;
    bool _stopping = false;
    std::thread _thread;
};

}  // namespace switchboard::auth
