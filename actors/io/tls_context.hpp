#pragma once
// The server side of TLS: one OpenSSL SSL_CTX built from `tls { ... }` (certificate,
// key, client-certificate authority, verification, cipher suites, minimum version).
// Built by the server actor at start and again on a configuration reload (new
// connections get the new certificates; open ones keep theirs). Immutable once built;
// shared by every I/O loop (OpenSSL allows SSL_new on one SSL_CTX from many threads).
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "libplatform/config/server_options.hpp"

namespace actors::io {

class tls_context {
 public:
  // Throws std::runtime_error with a clear reason (file, OpenSSL's words).
  explicit tls_context(const platform::config::server_options::tls_options& o);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  const platform::config::server_options::tls_options& options() const noexcept { return opts_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  platform::config::server_options::tls_options opts_;
};

// The last OpenSSL error(s) of this thread as text, and clears them.
std::string openssl_error_text();

// What a client certificate says about who it is, in the order verify_and_map tries
// them: e-mail addresses and DNS names of its subject alternative names, then its
// subject as an RFC 2253 string ("CN=alice,O=Acme").
std::vector<std::string> certificate_identities(X509* cert);

}  // namespace actors::io
