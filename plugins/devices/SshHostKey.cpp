// Generating and loading the ed25519 SSH host key (see SshHostKey.h). File format: OpenSSH's
// PROTOCOL.key ("openssh-key-v1"), cipher and KDF "none".
#include "SshHostKey.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "SshPublicKey.h"
#include "switchboard/SecretFile.h"

namespace switchboard::devices {

namespace {

constexpr const char* kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr const char* kEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr const char kMagic[] = "openssh-key-v1";  // followed by its NUL
constexpr const char* kComment = "switchboard-devices";

std::string uint32be(std::uint32_t n) {
    std::string out(4, '\0');
    out[0] = static_cast<char>((n >> 24) & 0xff);
    out[1] = static_cast<char>((n >> 16) & 0xff);
    out[2] = static_cast<char>((n >> 8) & 0xff);
    out[3] = static_cast<char>(n & 0xff);
    return out;
}

std::string bytes(const unsigned char* data, std::size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

std::string publicBlob(const unsigned char* publicKey) {
    return SshPublicKey::wireString("ssh-ed25519") +
           SshPublicKey::wireString(bytes(publicKey, crypto_sign_PUBLICKEYBYTES));
}

/// Reads RFC 4251 strings and uint32s; throws on truncation.
class Reader {
public:
    explicit Reader(std::string_view data) : _rest(data) {}
    std::uint32_t u32() {
        need(4);
        auto b = reinterpret_cast<const unsigned char*>(_rest.data());
        std::uint32_t n = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                          (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
        _rest.remove_prefix(4);
        return n;
    }
    std::string_view string() {
        std::uint32_t n = u32();
        need(n);
        std::string_view out = _rest.substr(0, n);
        _rest.remove_prefix(n);
        return out;
    }
    std::string_view rest() const { return _rest; }

private:
    void need(std::size_t n) const {
        if (_rest.size() < n) {
            throw std::runtime_error("truncated key data");
        }
    }
    std::string_view _rest;
};

void writeFile(const std::string& path, const std::string& text, mode_t mode) {
    std::string temp = path + ".tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    }
    ::fchmod(fd, mode);  // the umask must not widen or narrow it
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            int error = errno;
            ::close(fd);
            throw std::runtime_error("cannot write " + temp + ": " + std::strerror(error));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        throw std::runtime_error("cannot write " + temp + ": " + std::strerror(errno));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        throw std::runtime_error("cannot rename " + temp + ": " + std::strerror(errno));
    }
}

}  // namespace

std::string SshHostKey::publicLine(const unsigned char* publicKey, const std::string& comment) {
    return "ssh-ed25519 " + SshPublicKey::base64(publicBlob(publicKey)) +
           (comment.empty() ? "" : " " + comment);
}

std::string SshHostKey::privateKeyFile(const unsigned char* publicKey,
                                       const unsigned char* secretKey, const std::string& comment) {
    std::uint32_t check = randombytes_random();
    std::string secret = uint32be(check) + uint32be(check) +
                         SshPublicKey::wireString("ssh-ed25519") +
                         SshPublicKey::wireString(bytes(publicKey, crypto_sign_PUBLICKEYBYTES)) +
                         SshPublicKey::wireString(bytes(secretKey, crypto_sign_SECRETKEYBYTES)) +
                         SshPublicKey::wireString(comment);
    for (char pad = 1; secret.size() % 8 != 0; ++pad) {
        secret += pad;
    }
    std::string blob = std::string(kMagic, sizeof kMagic) + SshPublicKey::wireString("none") +
                       SshPublicKey::wireString("none") + SshPublicKey::wireString("") +
                       uint32be(1) + SshPublicKey::wireString(publicBlob(publicKey)) +
                       SshPublicKey::wireString(secret);
    sodium_memzero(secret.data(), secret.size());
    std::string encoded = SshPublicKey::base64(blob);
    sodium_memzero(blob.data(), blob.size());
    std::string text = std::string(kBegin) + "\n";
    for (std::size_t i = 0; i < encoded.size(); i += 70) {
        text += encoded.substr(i, 70) + "\n";
    }
    text += std::string(kEnd) + "\n";
    return text;
}

std::string SshHostKey::publicLineOf(const std::string& privateKeyText) {
    std::size_t begin = privateKeyText.find(kBegin);
    std::size_t end = privateKeyText.find(kEnd);
    if (begin == std::string::npos || end == std::string::npos || end < begin) {
        throw std::runtime_error("not an OpenSSH private key file");
    }
    std::string encoded;
    for (std::size_t i = begin + std::strlen(kBegin); i < end; ++i) {
        char c = privateKeyText[i];
        if (c != '\n' && c != '\r' && c != ' ') {
            encoded += c;
        }
    }
    std::string blob;
    if (!SshPublicKey::unbase64(encoded, blob)) {
        throw std::runtime_error("key data is not valid base64");
    }
    if (blob.compare(0, sizeof kMagic, std::string(kMagic, sizeof kMagic)) != 0) {
        throw std::runtime_error("not an openssh-key-v1 key");
    }
    Reader r(std::string_view(blob).substr(sizeof kMagic));
    if (r.string() != "none" || r.string() != "none" || !r.string().empty() || r.u32() != 1) {
        throw std::runtime_error("encrypted or multi-key files are not supported");
    }
    Reader pub(r.string());
    std::string_view privateSection = r.string();
    if (pub.string() != "ssh-ed25519") {
        throw std::runtime_error("not an ed25519 key");
    }
    std::string_view publicKey = pub.string();
    Reader priv(privateSection);
    if (priv.u32() != priv.u32()) {
        throw std::runtime_error("corrupt private section (check bytes differ)");
    }
    if (priv.string() != "ssh-ed25519" || priv.string() != publicKey ||
        publicKey.size() != crypto_sign_PUBLICKEYBYTES) {
        throw std::runtime_error("private section does not match the public key");
    }
    std::string_view secretKey = priv.string();
    std::string_view comment = priv.string();
    if (secretKey.size() != crypto_sign_SECRETKEYBYTES ||
        secretKey.substr(crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES) != publicKey) {
        throw std::runtime_error("secret key does not match the public key");
    }
    // The secret key's seed must really produce this public key.
    unsigned char seedPk[crypto_sign_PUBLICKEYBYTES];
    unsigned char seedSk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(seedPk, seedSk,
                             reinterpret_cast<const unsigned char*>(secretKey.data()));
    sodium_memzero(seedSk, sizeof seedSk);
    if (std::memcmp(seedPk, publicKey.data(), sizeof seedPk) != 0) {
        throw std::runtime_error("secret key does not match the public key");
    }
    return publicLine(reinterpret_cast<const unsigned char*>(publicKey.data()),
                      std::string(comment));
}

std::string SshHostKey::loadOrCreate(const std::string& dir, bool& created) {
    if (sodium_init() < 0) {
        throw std::runtime_error("libsodium failed to initialise");
    }
    const std::string path = dir + "/ssh_host_ed25519_key";
    std::string text = SecretFile::readOrCreate(
        path,
        [] {
            unsigned char publicKey[crypto_sign_PUBLICKEYBYTES];
            unsigned char secretKey[crypto_sign_SECRETKEYBYTES];
            crypto_sign_keypair(publicKey, secretKey);
            std::string file = privateKeyFile(publicKey, secretKey, kComment);
            sodium_memzero(secretKey, sizeof secretKey);
            return file;
        },
        created);
    std::string line;
    try {
        line = publicLineOf(text);
    } catch (const std::runtime_error& e) {
        sodium_memzero(text.data(), text.size());
        throw std::runtime_error(path + ": " + e.what());
    }
    sodium_memzero(text.data(), text.size());
    std::string pubText;
    std::ifstream pubIn(path + ".pub");
    if (!pubIn || !std::getline(pubIn, pubText) || pubText != line) {
        writeFile(path + ".pub", line + "\n", 0644);  // a new, missing or stale .pub
    }
    return line;
}

}  // namespace switchboard::devices
