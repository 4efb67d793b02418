#include "actors/io/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace actors::io {

std::string openssl_error_text() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason.
    std::string_view t(buf);
    auto colon = t.rfind(':');
    out += colon == std::string_view::npos ? t : t.substr(colon + 1);
  }
  return out.empty() ? "unknown TLS error" : out;
}

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::string why = openssl_error_text();
  throw std::runtime_error(what + ": " + why);
}

}  // namespace

tls_context::tls_context(const platform::config::server_options::tls_options& o) : opts_(o) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) fail("cannot create a TLS context");
  try {
    int min = o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(ctx_, min);
    // No renegotiation (a client could make the server do handshakes forever), no
    // compression; partial writes because the outbound buffer keeps what is unwritten.
    // A client that closes without close_notify (most do) has closed, not failed.
    SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_IGNORE_UNEXPECTED_EOF);
    // NO_AUTO_CHAIN: send exactly the chain in cert_file, as nats-server does (else
    // OpenSSL would add certificates from ca_file, the client authorities).
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    // Read ahead: one read() takes many records (without it OpenSSL reads each record's
    // 5-byte header, then its body: two system calls per 16 KiB). What it read ahead
    // and not yet decrypted is SSL_has_pending(), which tls_transport checks before it
    // waits for the socket. RELEASE_BUFFERS above keeps an idle connection from holding
    // the larger buffer.
    SSL_CTX_set_read_ahead(ctx_, 1);
    SSL_CTX_set_default_read_buffer_len(ctx_, 64 * 1024);
    if (SSL_CTX_use_certificate_chain_file(ctx_, o.cert_file.c_str()) != 1)
      fail("tls cert_file \"" + o.cert_file + "\"");
    if (SSL_CTX_use_PrivateKey_file(ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        throw std::runtime_error("tls key_file \"" + o.key_file + "\" does not match cert_file \"" + o.cert_file + "\"");
      }
      fail("tls key_file \"" + o.key_file + "\"");
    }
    if (SSL_CTX_check_private_key(ctx_) != 1) fail("tls key_file \"" + o.key_file + "\" does not match cert_file");
    if (!o.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr) != 1)
        fail("tls ca_file \"" + o.ca_file + "\"");
      // Tell clients which authorities their certificate may come from.
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str()))
        SSL_CTX_set_client_CA_list(ctx_, names);
    } else if (o.verify) {
      SSL_CTX_set_default_verify_paths(ctx_);
    }
    SSL_CTX_set_verify(ctx_, o.verify ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE, nullptr);
    if (!o.cipher_suites.empty()) {
      // nats-server takes Go's (IANA) names; OpenSSL has its own.
      std::string list;
      for (auto& name : o.cipher_suites) {
        const char* ossl = OPENSSL_cipher_name(name.c_str());
        if (ossl == nullptr || std::string_view(ossl) == "(NONE)")
          throw std::runtime_error("tls cipher_suites: unknown cipher suite \"" + name + "\"");
        if (!list.empty()) list += ':';
        list += ossl;
      }
      if (SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) fail("tls cipher_suites");
    }
    // No session resumption: NATS clients (libnats, nats.go, nats.js) never offer a
    // session again, so TLS 1.3 tickets (OpenSSL sends two after every handshake) and
    // a TLS 1.2 session cache would only cost each login an encryption, a write, and
    // the client the parsing of tickets it throws away.
    SSL_CTX_set_num_tickets(ctx_, 0);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx_, reinterpret_cast<const unsigned char*>("dialtone"), 8);
  } catch (...) {
    SSL_CTX_free(ctx_);
    throw;
  }
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

std::vector<std::string> certificate_identities(X509* cert) {
  std::vector<std::string> out;
  if (!cert) return out;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int pass = 0; pass < 2; ++pass) {  // e-mail addresses first, then DNS names
      for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
        int want = pass == 0 ? GEN_EMAIL : GEN_DNS;
        if (n->type != want) continue;
        const ASN1_IA5STRING* s = pass == 0 ? n->d.rfc822Name : n->d.dNSName;
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (X509_NAME* subject = X509_get_subject_name(cert)) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio) {
      X509_NAME_print_ex(bio, subject, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
      char* data = nullptr;
      long len = BIO_get_mem_data(bio, &data);
      if (len > 0) out.emplace_back(data, static_cast<size_t>(len));
      BIO_free(bio);
    }
  }
  return out;
}

}  // namespace actors::io
