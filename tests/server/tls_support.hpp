#pragma once
// Test certificates made with the openssl command line: a CA, a server certificate for
// localhost/127.0.0.1, and client certificates with a chosen subject and e-mail; and a
// raw TLS client that reads INFO in plain text, then handshakes as NATS clients do.
#include <openssl/ssl.h>

#include <string>

#include "server_process.hpp"

namespace testing_support {

struct test_pki {
  std::string dir;
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  test_pki();
  // A client certificate signed by the CA: returns {cert file, key file}.
  std::pair<std::string, std::string> client(const std::string& name, const std::string& subject,
                                             const std::string& email);
  // A new server certificate with another common name, written over server_cert/key.
  void reissue_server(const std::string& common_name);
};

// Connects, reads INFO, handshakes TLS (optionally with a client certificate); returns
// the server certificate's subject ("" when the handshake failed) and leaves the SSL
// session open in `ssl` (caller frees with SSL_free; fd closed by tls_client).
class tls_client {
 public:
  tls_client(int port, const std::string& ca_file, const std::string& cert = "", const std::string& key = "");
  ~tls_client();
  bool ok() const { return ssl_ != nullptr; }
  std::string info;            // the plain INFO line
  std::string server_subject;  // e.g. "CN=localhost"
  void send(const std::string& s);
  std::string read_until(const std::string& needle, int timeout_ms = 3000);

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffered_;
};

}  // namespace testing_support
