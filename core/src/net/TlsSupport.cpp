// TLS contexts and development certificates (see TlsSupport.h). POCO has no X.509 builder, so
// the certificate is signed with OpenSSL directly.
#include "net/TlsSupport.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "switchboard/SecretFile.h"

namespace switchboard {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

void addExtension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) {
        throw std::runtime_error("cannot build certificate extension");
    }
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

void writeCertificate(const std::string& path, X509* cert) {
    Poco::File(Poco::Path(path).parent()).createDirectories();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        throw std::runtime_error("cannot write " + path);
    }
    int ok = PEM_write_X509(f, cert);
    if (std::fclose(f) != 0 || ok != 1) {
        throw std::runtime_error("cannot write " + path);
    }
}

/// The private key as a SecretFile: mode 0600 from its first byte. The PEM text is built in
/// secure memory, cleared when freed.
void writeKey(const std::string& path, EVP_PKEY* key) {
    std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(BIO_new(BIO_s_secmem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        throw std::runtime_error("cannot write " + path);
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    std::string_view pem(data, static_cast<std::size_t>(size));
    if (!SecretFile::create(path, pem)) {
        throw std::runtime_error("TLS: " + path +
                                 " was created by someone else meanwhile; start again to use it");
    }
}

}  // namespace

bool ensureDevCertificate(const std::string& certFile, const std::string& keyFile) {
    bool haveCert = Poco::File(certFile).exists();
    bool haveKey = Poco::File(keyFile).exists();
    if (haveCert && haveKey) {
        return false;
    }
    if (haveCert != haveKey) {
        throw std::runtime_error("TLS: " + (haveCert ? keyFile : certFile) + " is missing (" +
                                 (haveCert ? certFile : keyFile) + " exists)");
    }
    KeyPtr key(EVP_EC_gen("P-256"));
    if (!key) {
        throw std::runtime_error("TLS: cannot generate a key");
    }
    CertPtr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    addExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    addExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
        throw std::runtime_error("TLS: cannot sign the development certificate");
    }
    writeKey(keyFile, key.get());
    writeCertificate(certFile, cert.get());
    return true;
}

Poco::Net::Context::Ptr makeServerContext(const TlsOptions& tls) {
    Poco::Net::Context::Params params;
    params.certificateFile = tls.cert;
    params.privateKeyFile = tls.key;
    params.cipherList = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5";
    if (tls.ca.empty()) {
        params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    } else {
        params.caLocation = tls.ca;
        params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
        params.loadDefaultCAs = false;
    }
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    // POCO's "extended" check matches the peer certificate's name against the peer address:
    // right for a client checking a server, wrong for client certificates. The CA chain check
    // (OpenSSL) is what authenticates a client.
    context->enableExtendedCertificateVerification(false);
    context->preferServerCiphers();
    context->enableSessionCache(true, "switchboard");
    return context;
}

}  // namespace switchboard
