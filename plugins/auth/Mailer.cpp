// SMTP delivery thread (see Mailer.h).
#include "Mailer.h"

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/SecureSMTPClientSession.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocket.h>

#include "switchboard/ThreadName.h"

namespace switchboard::auth {

namespace {

Poco::Net::Context::Ptr clientContext(const AuthConfig& c) {
    // An explicit context: POCO's default client context would ask on the console what to do
    // with a certificate it cannot verify (POCO-NOTES §8).
    return new Poco::Net::Context(
        Poco::Net::Context::TLS_CLIENT_USE, "", "", c.smtpCaFile,
        c.smtpVerify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE, 9,
        c.smtpCaFile.empty(), "HIGH:!aNULL:!MD5");
}

/// EHLO, then AUTH LOGIN when a username is configured.
void greet(Poco::Net::SMTPClientSession& session, const AuthConfig& c) {
    if (c.smtpUsername.empty()) {
        session.login();
    } else {
        session.login(Poco::Net::SMTPClientSession::AUTH_LOGIN, c.smtpUsername, c.smtpPassword);
    }
}

}  // namespace

Mailer::Mailer(std::shared_ptr<const AuthConfig> config, Poco::Logger& logger, Metrics& metrics)
    : _config(std::move(config)),
      _logger(logger),
      _sent(metrics.counter("mails_sent_total", "Mails handed to the SMTP server")),
      _failed(metrics.counter("mails_failed_total", "Mails that could not be sent")) {}

Mailer::~Mailer() {
    stop();
}

void Mailer::start() {
    std::lock_guard<std::mutex> lock(_mutex);
    if (!_thread.joinable()) {
        _stopping = false;
        _thread = std::thread([this] {
            nameThisThread("sb-mailer");
            run();
        });
    }
}

void Mailer::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) {
        _thread.join();
    }
    std::lock_guard<std::mutex> lock(_mutex);
    if (!_queue.empty()) {
        _logger.warning("%z queued mail(s) dropped at stop", _queue.size());
        _failed.inc(_queue.size());
        _queue.clear();
    }
}

bool Mailer::enqueue(Mail mail) {
    if (_config->smtpHost.empty()) {
        _logger.warning("no SMTP server configured (plugins.auth.smtp.host): mail to %s not sent",
                        mail.to);
        _failed.inc();
        return false;
    }
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (_queue.size() >= kQueueLimit || _stopping) {
            _logger.warning("mail queue full: mail to %s dropped", mail.to);
            _failed.inc();
            return false;
        }
        _queue.push_back(std::move(mail));
    }
    _wake.notify_one();
    return true;
}

std::size_t Mailer::queued() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _queue.size();
}

void Mailer::run() {
    for (;;) {
        Mail mail;
        {
            std::unique_lock<std::mutex> lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_queue.empty(); });
            if (_stopping) {
                return;
            }
            mail = std::move(_queue.front());
            _queue.pop_front();
        }
        try {
            send(mail);
            _sent.inc();
            _logger.information("mail \"%s\" sent to %s", mail.subject, mail.to);
        } catch (const Poco::Exception& e) {
            _failed.inc();
            _logger.error("cannot send mail to %s via %s:%d: %s", mail.to, _config->smtpHost,
                          _config->smtpPort, e.displayText());
        } catch (const std::exception& e) {
            _failed.inc();
            _logger.error("cannot send mail to %s via %s:%d: %s", mail.to, _config->smtpHost,
                          _config->smtpPort, std::string(e.what()));
        }
    }
}

void Mailer::send(const Mail& mail) {
    const AuthConfig& c = *_config;
    using namespace Poco::Net;
    MailMessage message;
    message.setSender(c.smtpFrom);
    message.addRecipient(MailRecipient(MailRecipient::PRIMARY_RECIPIENT, mail.to));
    message.setSubject(MailMessage::encodeWord(mail.subject, "UTF-8"));
    message.setContentType("text/plain; charset=UTF-8");
    message.setContent(mail.body, MailMessage::ENCODING_8BIT);

    Poco::Timespan timeout(static_cast<Poco::Timestamp::TimeDiff>(c.smtpTimeout.count()) * 1000);
    SocketAddress address(c.smtpHost, static_cast<Poco::UInt16>(c.smtpPort));
    switch (c.smtpTls) {
        case AuthConfig::SmtpTls::None: {
            StreamSocket socket;
            socket.connect(address, timeout);
            SMTPClientSession session(socket);
            session.setTimeout(timeout);
            greet(session, c);
            session.sendMessage(message);
            session.close();
            break;
        }
        case AuthConfig::SmtpTls::StartTls: {
            SecureSMTPClientSession session(c.smtpHost, static_cast<Poco::UInt16>(c.smtpPort));
            session.setTimeout(timeout);
            session.login();
            if (!session.startTLS(clientContext(c))) {
                throw Poco::Net::SMTPException("the server does not offer STARTTLS");
            }
            greet(session, c);  // EHLO again, now encrypted
            session.sendMessage(message);
            session.close();
            break;
        }
        case AuthConfig::SmtpTls::Implicit: {
            SecureStreamSocket socket(clientContext(c));
            socket.setPeerHostName(c.smtpHost);
            socket.connect(address, timeout);
            SMTPClientSession session(socket);
            session.setTimeout(timeout);
            greet(session, c);
            session.sendMessage(message);
            session.close();
            break;
        }
    }
}

}  // namespace switchboard::auth
