#pragma once
// How a client session's bytes reach the network. The session (client_connection)
// reads and writes only through this interface, so TLS slots in as another transport
// over the same descriptor.
//
// Who may write. A plain TCP socket may be written by any thread (the write path holds
// the session's flushing flag, so one writer at a time): a publisher's loop flushes
// its receivers itself at the end of its read batch, whatever loop they live on, as
// nats-server's flushClients does. OpenSSL does not allow SSL_write and SSL_read to run
// at the same time on one connection, so a TLS transport answers false to
// writes_from_any_thread(): the publisher's loop then only appends to the receiver's
// outbound buffer and asks the receiver's own loop to flush it (one post per receiver
// while one is outstanding; client_connection::flush()). Plain TCP keeps the direct
// path; `DIALTONE_OWNER_WRITES=1` in the environment makes plain TCP behave like TLS
// here, so tests and `make bench` can measure the TLS discipline without TLS.
#include <sys/types.h>
#include <sys/uio.h>

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace actors::io {

class event_loop;

// Told by the transport when the socket is ready (on the owning loop's thread).
class transport_handler {
 public:
  virtual ~transport_handler() = default;
  virtual void on_readable(const std::error_code& ec) = 0;
  virtual void on_writable(const std::error_code& ec) = 0;
};

class transport {
 public:
  virtual ~transport() = default;
  // Non-blocking, with ::read/::writev semantics: -1 and errno (EAGAIN when nothing
  // can move now), 0 from read at end of stream.
  virtual ssize_t read(char* buf, size_t len) = 0;
  virtual ssize_t writev(const iovec* iov, int count) = 0;
  // Owning loop only: call h once when the socket becomes readable / writable. The
  // handler is held (shared) until then.
  virtual void wait_readable(std::shared_ptr<transport_handler> h) = 0;
  virtual void wait_writable(std::shared_ptr<transport_handler> h) = 0;
  // Owning loop, with no write in progress: shuts the socket down and closes it.
  virtual void close() = 0;
  // See the top of this file.
  virtual bool writes_from_any_thread() const noexcept = 0;
  // Owning loop, once INFO went out: a transport that negotiates before the protocol
  // (TLS) does it now, then calls done with an error text, or empty on success. Plain
  // TCP calls done({}) at once. Until done, only the plain INFO may be written.
  virtual void handshake(std::function<void(const std::string& error)> done) { done({}); }
  virtual bool secure() const noexcept { return false; }
  // After the handshake: the names the client certificate gives (e-mail and DNS
  // subject alternative names, then the RFC 2253 subject); empty without one.
  virtual std::vector<std::string> peer_identities() const { return {}; }
  // "ip:port" of the peer and the ip alone; empty when unknown.
  virtual const std::string& remote() const noexcept = 0;
  virtual const std::string& remote_ip() const noexcept = 0;
};

}  // namespace actors::io
