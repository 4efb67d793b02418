#include "tls_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>

namespace testing_support {

using namespace std::chrono_literals;

namespace {

void openssl(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  (void)dir;
  auto r = run_command(argv, 20s);
  INFO("openssl output: " << r.output);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

test_pki::test_pki() : dir(make_temp_dir()) {
  ca_cert = dir + "/ca.pem";
  ca_key = dir + "/ca-key.pem";
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
           "-subj", "/CN=Dialtone Test CA", "-keyout", ca_key, "-out", ca_cert},
          dir);
  server_cert = dir + "/server.pem";
  server_key = dir + "/server-key.pem";
  reissue_server("localhost");
}

void test_pki::reissue_server(const std::string& common_name) {
  auto ext = write_temp_file("san.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  std::string csr = dir + "/server.csr";
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj",
           "/CN=" + common_name, "-keyout", server_key, "-out", csr},
          dir);
  openssl({"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
           "-extfile", ext, "-out", server_cert},
          dir);
}

std::pair<std::string, std::string> test_pki::client(const std::string& name, const std::string& subject,
                                                     const std::string& email) {
  std::string cert = dir + "/" + name + ".pem", key = dir + "/" + name + "-key.pem", csr = dir + "/" + name + ".csr";
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout",
           key, "-out", csr},
          dir);
  std::vector<std::string> sign{"x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
                                "-days", "2", "-out", cert};
  if (!email.empty()) {
    sign.push_back("-extfile");
    sign.push_back(write_temp_file(name + ".ext", "subjectAltName=email:" + email + "\n"));
  }
  openssl(sign, dir);
  return {cert, key};
}

tls_client::tls_client(int port, const std::string& ca_file, const std::string& cert, const std::string& key) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  // INFO comes in plain text, byte by byte so nothing of the handshake is read.
  char ch;
  while (info.size() < 8192 && ::read(fd_, &ch, 1) == 1) {
    info.push_back(ch);
    if (ch == '\n') break;
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!cert.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  if (SSL_connect(ssl_) != 1) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
    server_subject = buf;
  }
}

tls_client::~tls_client() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

void tls_client::send(const std::string& s) {
  REQUIRE(ssl_);
  REQUIRE(SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size()));
}

std::string tls_client::read_until(const std::string& needle, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (buffered_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    if (SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
    }
    char buf[4096];
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) break;
    buffered_.append(buf, static_cast<size_t>(n));
  }
  auto at = buffered_.find(needle);
  std::string out;
  if (at == std::string::npos) {
    out.swap(buffered_);
  } else {
    out = buffered_.substr(0, at + needle.size());
    buffered_.erase(0, at + needle.size());
  }
  return out;
}

}  // namespace testing_support
