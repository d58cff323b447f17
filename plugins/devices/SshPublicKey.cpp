// OpenSSH public key validation (see SshPublicKey.h). Structures per RFC 4253 §6.6 (ssh-rsa),
// RFC 5656 §3.1 (ecdsa), RFC 8709 (ssh-ed25519) and OpenSSH PROTOCOL.u2f (sk-* keys).
#include "SshPublicKey.h"

#include <sodium.h>

#include <vector>

namespace switchboard::devices {

namespace {

/// Reads RFC 4251 strings from a key blob.
class BlobReader {
public:
    explicit BlobReader(std::string_view blob) : _rest(blob) {}
    bool string(std::string_view& out) {
        if (_rest.size() < 4) {
            return false;
        }
        auto b = reinterpret_cast<const unsigned char*>(_rest.data());
        std::uint32_t length = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                               (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
        if (length > _rest.size() - 4) {
            return false;
        }
        out = _rest.substr(4, length);
        _rest.remove_prefix(4 + length);
        return true;
    }
    bool done() const { return _rest.empty(); }

private:
    std::string_view _rest;
};

/// Bits of a positive mpint (RFC 4251 §5), 0 if it is not one.
std::size_t mpintBits(std::string_view value) {
    if (value.empty() || (static_cast<unsigned char>(value.front()) & 0x80) != 0) {
        return 0;  // zero or negative
    }
    while (!value.empty() && value.front() == '\0') {
        value.remove_prefix(1);
    }
    if (value.empty()) {
        return 0;
    }
    std::size_t bits = value.size() * 8;
    for (unsigned char top = static_cast<unsigned char>(value.front()); (top & 0x80) == 0;
         top = static_cast<unsigned char>(top << 1)) {
        --bits;
    }
    return bits;
}

bool ecPoint(std::string_view point, std::size_t fieldBytes) {
    return point.size() == 1 + 2 * fieldBytes && point.front() == '\x04';
}

/// Checks the fields after the type string.
bool checkBody(const std::string& type, BlobReader& r) {
    std::string_view a, b, c;
    if (type == "ssh-ed25519") {
        return r.string(a) && a.size() == 32 && r.done();
    }
    if (type == "sk-ssh-ed25519@openssh.com") {
        return r.string(a) && a.size() == 32 && r.string(b) && !b.empty() && r.done();
    }
    if (type == "ssh-rsa") {
        return r.string(a) && mpintBits(a) >= 2 && r.string(b) && mpintBits(b) >= 1024 && r.done();
    }
    struct Curve {
        const char* type;
        const char* name;
        std::size_t bytes;
        bool sk;
    };
    static const Curve kCurves[] = {
        {"ecdsa-sha2-nistp256", "nistp256", 32, false},
        {"ecdsa-sha2-nistp384", "nistp384", 48, false},
        {"ecdsa-sha2-nistp521", "nistp521", 66, false},
        {"sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", 32, true},
    };
    for (const Curve& curve : kCurves) {
        if (type == curve.type) {
            if (!r.string(a) || a != curve.name || !r.string(b) || !ecPoint(b, curve.bytes)) {
                return false;
            }
            if (curve.sk && (!r.string(c) || c.empty())) {
                return false;
            }
            return r.done();
        }
    }
    return false;
}

bool accepted(std::string_view type) {
    static const char* const kTypes[] = {"ssh-ed25519",
                                         "ssh-rsa",
                                         "ecdsa-sha2-nistp256",
                                         "ecdsa-sha2-nistp384",
                                         "ecdsa-sha2-nistp521",
                                         "sk-ssh-ed25519@openssh.com",
                                         "sk-ecdsa-sha2-nistp256@openssh.com"};
    for (const char* t : kTypes) {
        if (type == t) {
            return true;
        }
    }
    return false;
}

bool isSpace(char c) {
    return c == ' ' || c == '\t';
}

bool printable(std::string_view text) {
    for (char c : text) {
        if (c < 0x21 || c > 0x7e) {
            return false;
        }
    }
    return !text.empty() && text.size() <= 64;
}

}  // namespace

const char* SshPublicKey::acceptedTypes() {
    return "ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, "
           "sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com";
}

bool SshPublicKey::validate(const std::string& text, std::string& normalized, std::string& error) {
    std::string_view line(text);
    while (!line.empty() && (isSpace(line.back()) || line.back() == '\n' || line.back() == '\r')) {
        line.remove_suffix(1);
    }
    while (!line.empty() && isSpace(line.front())) {
        line.remove_prefix(1);
    }
    if (line.empty()) {
        error = "pubkey must not be empty";
        return false;
    }
    for (char c : line) {
        if (c == '\n' || c == '\r' || c == '\0') {
            error = "pubkey must be a single line";
            return false;
        }
    }
    std::size_t typeEnd = 0;
    while (typeEnd < line.size() && !isSpace(line[typeEnd])) {
        ++typeEnd;
    }
    std::string_view type = line.substr(0, typeEnd);
    std::string_view rest = line.substr(typeEnd);
    while (!rest.empty() && isSpace(rest.front())) {
        rest.remove_prefix(1);
    }
    std::size_t dataEnd = 0;
    while (dataEnd < rest.size() && !isSpace(rest[dataEnd])) {
        ++dataEnd;
    }
    std::string_view data = rest.substr(0, dataEnd);
    std::string_view comment = rest.substr(dataEnd);
    while (!comment.empty() && isSpace(comment.front())) {
        comment.remove_prefix(1);
    }
    if (!accepted(type)) {
        if (data.empty()) {
            error = "pubkey must be an OpenSSH public key line: <type> <base64 key> [comment]";
        } else {
            error = "unsupported key type '" + std::string(type.substr(0, 64)) +
                    "' (accepted: " + acceptedTypes() + ")";
        }
        return false;
    }
    if (data.empty()) {
        error = "pubkey must be an OpenSSH public key line: <type> <base64 key> [comment]";
        return false;
    }
    std::string blob;
    if (!unbase64(data, blob)) {
        error = "pubkey: key data is not valid base64";
        return false;
    }
    BlobReader reader(blob);
    std::string_view embedded;
    if (!reader.string(embedded)) {
        error = "pubkey: key data is malformed for " + std::string(type);
        return false;
    }
    if (embedded != type) {
        error = "pubkey: key data is " +
                (printable(embedded) ? "a " + std::string(embedded) + " key" : "not a key") +
                ", not " + std::string(type);
        return false;
    }
    if (!checkBody(std::string(type), reader)) {
        error = "pubkey: key data is malformed for " + std::string(type);
        return false;
    }
    normalized.assign(type);
    normalized += ' ';
    normalized.append(data);
    if (!comment.empty()) {
        normalized += ' ';
        normalized.append(comment);
    }
    return true;
}

std::string SshPublicKey::wireString(std::string_view bytes) {
    std::string out;
    auto n = static_cast<std::uint32_t>(bytes.size());
    out += static_cast<char>((n >> 24) & 0xff);
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
    out.append(bytes);
    return out;
}

std::string SshPublicKey::base64(std::string_view bytes) {
    std::vector<char> out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    return std::string(out.data());
}

bool SshPublicKey::unbase64(std::string_view text, std::string& bytes) {
    if (text.empty() || text.size() % 4 != 0) {
        return false;
    }
    bytes.resize(text.size() / 4 * 3);
    std::size_t length = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), text.data(),
                          text.size(), nullptr, &length, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
        return false;
    }
    bytes.resize(length);
    return true;
}

}  // namespace switchboard::devices
