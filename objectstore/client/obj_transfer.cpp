// Putting and getting an object's data, chunk by chunk: put pipelines its chunks with
// js_PublishAsync (a bounded window of unacknowledged bytes), then writes the meta;
// get reads the chunks through an ordered consumer and checks size and digest.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "objectstore/client/obj_client.hpp"
#include "objectstore/client/obj_wire.hpp"

namespace objectstore::client {

namespace {

using clock_type = std::chrono::steady_clock;

// The acknowledgements of one put's chunks, counted by libnats' ack handler (its
// delivery thread) and read by the putting thread. Freed by the put once every ack is
// in; if some never come, it is left to libnats (whose handler might still run).
struct put_acks {
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> count{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  natsStatus error = NATS_OK;
  jsErrCode error_code = jsErrCode(0);
  std::string error_text;
};

void on_chunk_ack(jsCtx*, natsMsg* msg, jsPubAck*, jsPubAckErr* pae, void* closure) {
  auto* acks = static_cast<put_acks*>(closure);
  if (pae != nullptr) {
    std::lock_guard lock(acks->mu);
    if (!acks->failed.exchange(true)) {
      acks->error = pae->Err;
      acks->error_code = pae->ErrCode;
      acks->error_text = pae->ErrText ? pae->ErrText : "";
    }
  } else {
    acks->bytes.fetch_add(uint64_t(natsMsg_GetDataLength(msg)), std::memory_order_relaxed);
    acks->count.fetch_add(1, std::memory_order_relaxed);
  }
  natsMsg_Destroy(msg);  // with an AckHandler the message is ours
}

status ack_failure(put_acks& acks, const std::string& bucket, const std::string& name) {
  std::lock_guard lock(acks.mu);
  if (acks.error == NATS_NO_RESPONDERS) return status(errc::bucket_not_found, "bucket not found: " + bucket);
  if (acks.error_code != 0)
    return detail::from_api_error({{"err_code", int(acks.error_code)}, {"description", acks.error_text}}, bucket);
  std::string what = "cannot store a chunk of \"" + name + "\"";
  if (acks.error == NATS_TIMEOUT) return status(errc::timeout, what + ": timed out waiting for the server");
  return status(errc::server_error, what + ": " + (acks.error_text.empty() ? natsStatus_GetText(acks.error)
                                                                            : acks.error_text));
}

}  // namespace

result<object_info> bucket::put(const object_meta& meta, std::istream& in, const put_options& options) {
  return put_from(
      meta,
      [&in](char* buf, size_t max) -> result<size_t> {
        in.read(buf, std::streamsize(max));
        if (in.bad()) return status(errc::io_error, "cannot read the input");
        return size_t(in.gcount());
      },
      options);
}

result<object_info> bucket::put(const object_meta& meta, int fd, const put_options& options) {
  return put_from(
      meta,
      [fd](char* buf, size_t max) -> result<size_t> {
        for (;;) {
          ssize_t n = ::read(fd, buf, max);
          if (n >= 0) return size_t(n);
          if (errno != EINTR)
            return status(errc::io_error, std::string("cannot read the input: ") + std::strerror(errno));
        }
      },
      options);
}

result<object_info> bucket::put_file(const object_meta& meta, const std::string& path, put_options options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return status(errc::io_error, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && options.size_hint == 0) options.size_hint = uint64_t(st.st_size);
  auto r = put(meta, fd, options);
  ::close(fd);
  return r;
}

result<object_info> bucket::put_from(const object_meta& meta, const reader_fn& read, const put_options& options) {
  if (meta.name.empty()) return status(errc::invalid_argument, "object name must not be empty");
  if (meta.link) return status(errc::invalid_argument, "a put cannot store a link (use add_link)");
  // The version being replaced: its chunks are purged once the new meta is stored.
  auto existing = info(meta.name, true);
  if (!existing && existing.code() != errc::object_not_found) return existing.error();

  uint32_t chunk_size = options.chunk_size > 0 ? options.chunk_size : default_chunk_size;
  if (int64_t max_payload = natsConnection_GetMaxPayload(ctx_->nc); max_payload > 0)
    chunk_size = uint32_t(std::min<int64_t>(chunk_size, max_payload));
  size_t window = options.window_bytes > 0 ? options.window_bytes : default_put_window;
  const std::string nuid = detail::new_nuid();
  const std::string subject = detail::chunk_subject(name_, nuid);
  // Acks stall the put only when nothing at all is acknowledged for this long.
  const auto stall_limit = std::max<std::chrono::milliseconds>(ctx_->wait * 2, std::chrono::seconds(10));

  auto* acks = new put_acks();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = int64_t(ctx_->wait.count());
  jo.PublishAsync.MaxPending = int64_t(std::max<size_t>(1, window / chunk_size));
  jo.PublishAsync.AckHandler = on_chunk_ack;
  jo.PublishAsync.AckHandlerClosure = acks;
  jo.PublishAsync.StallWait = 250;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, ctx_->nc, &jo); s != NATS_OK) {
    delete acks;
    return detail::from_nats(s, "cannot put \"" + meta.name + "\"");
  }

  detail::sha256 digest;
  std::vector<char> buf(chunk_size);
  uint64_t size = 0;
  uint32_t chunks = 0;
  status failure;
  uint64_t progress_seen = 0;
  auto last_ack_change = clock_type::now();
  uint64_t last_ack_count = 0;
  // True while acks keep coming (or none is awaited); notes when they last moved.
  auto acks_moving = [&] {
    uint64_t n = acks->count.load(std::memory_order_relaxed);
    if (n != last_ack_count || n == chunks) {
      last_ack_count = n;
      last_ack_change = clock_type::now();
    }
    return clock_type::now() - last_ack_change < stall_limit;
  };
  auto report = [&] {
    uint64_t done = acks->bytes.load(std::memory_order_relaxed);
    if (options.progress && done != progress_seen) options.progress(progress_seen = done, options.size_hint);
  };
  for (bool eof = false; !eof && failure.ok();) {
    size_t n = 0;
    while (n < chunk_size) {  // a full chunk even from a pipe that returns less
      auto got = read(buf.data() + n, chunk_size - n);
      if (!got) {
        failure = got.error();
        break;
      }
      if (*got == 0) {
        eof = true;
        break;
      }
      n += *got;
    }
    if (!failure.ok() || n == 0) break;
    digest.update(buf.data(), n);
    for (;;) {
      if (acks->failed.load()) break;
      natsStatus s = js_PublishAsync(js, subject.c_str(), buf.data(), int(n), nullptr);
      if (s == NATS_OK) break;
      if (s != NATS_TIMEOUT) {  // NATS_TIMEOUT: the window is full, wait for it to drain
        failure = detail::from_nats(s, "cannot put \"" + meta.name + "\"");
        break;
      }
      if (!acks_moving()) {
        failure = status(errc::timeout, "cannot put \"" + meta.name + "\": the server stopped acknowledging chunks");
        break;
      }
    }
    if (!failure.ok() || acks->failed.load()) break;
    size += n;
    ++chunks;
    acks_moving();
    report();
  }

  // Every chunk must be acknowledged before the meta may name them.
  bool all_acked = false;
  while (!all_acked) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 250;
    natsStatus s = js_PublishAsyncComplete(js, &po);
    all_acked = s == NATS_OK;
    report();
    if (!all_acked && (s != NATS_TIMEOUT || !acks_moving())) break;
  }
  if (failure.ok() && acks->failed.load()) failure = ack_failure(*acks, name_, meta.name);
  if (failure.ok() && !all_acked)
    failure = status(errc::timeout, "cannot put \"" + meta.name + "\": the server stopped acknowledging chunks");
  jsCtx_Destroy(js);
  if (all_acked) delete acks;  // else libnats may still call on_chunk_ack with it
  if (!failure.ok()) {
    if (chunks > 0) (void)purge_chunks(nuid);  // best effort: the error that stopped us matters more
    return failure;
  }

  object_info info;
  static_cast<object_meta&>(info) = meta;
  info.max_chunk_size = chunk_size;
  info.bucket = name_;
  info.nuid = nuid;
  info.size = size;
  info.chunks = chunks;
  info.digest = detail::digest_text(digest.finish());
  auto stored = publish_meta(info);
  if (!stored) {
    if (chunks > 0) (void)purge_chunks(nuid);
    return stored.error();
  }
  if (existing && !existing->deleted && !existing->nuid.empty()) {
    if (auto s = purge_chunks(existing->nuid); !s)
      return status(s.code(), "stored \"" + meta.name + "\", but purging the previous version's chunks failed: " +
                                  s.message());
  }
  if (options.progress) options.progress(size, options.size_hint > 0 ? options.size_hint : size);
  return stored;
}

result<object_info> bucket::get(const std::string& name, std::ostream& out, const get_options& options) {
  return get_depth(name, out, options, 0);
}

result<object_info> bucket::get_depth(const std::string& name, std::ostream& out, const get_options& options,
                                      int depth) {
  auto found = info(name);
  if (!found) return found.error();
  const object_info& obj = *found;
  if (obj.is_link()) {
    const object_link& l = *obj.link;
    if (l.name.empty())
      return status(errc::bucket_link, "\"" + name + "\" is a link to bucket \"" + l.bucket + "\", not to an object");
    if (depth > 0) return status(errc::link_to_link, "\"" + name + "\" is a link to a link");
    if (l.bucket == name_) return get_depth(l.name, out, options, depth + 1);
    if (!valid_bucket_name(l.bucket)) return status(errc::bad_meta, "\"" + name + "\" links to an invalid bucket name");
    bucket target(ctx_, l.bucket);
    return target.get_depth(l.name, out, options, depth + 1);
  }
  std::optional<detail::sha256_bytes> expected;
  if (!obj.digest.empty()) {
    expected = detail::parse_digest(obj.digest);
    if (!expected)
      return status(errc::bad_meta, "invalid digest \"" + obj.digest + "\" in the meta of \"" + name + "\"");
  }

  detail::sha256 digest;
  uint64_t size = 0;
  uint32_t chunks = 0;
  status failure;
  if (obj.chunks > 0 || obj.size > 0) {
    auto consumer = detail::ordered_consumer(*ctx_, name_, detail::chunk_subject(name_, obj.nuid), js_DeliverAll);
    if (!consumer) return consumer.error();
    natsSubscription* sub = *consumer;
    // Chunks purged or expired under a meta that still names them: say so now rather
    // than after the stall timeout. Asked only when the first chunk is late: the answer
    // queues behind the chunks already on their way, so asking first would leave this
    // loop idle while the whole flow-control window arrives (24 ms of a 64 MiB get).
    // A partly stored object shows in the chunks' pending counts (checked below).
    auto stored_chunks = [&]() -> std::optional<uint64_t> {
      jsConsumerInfo* ci = nullptr;
      jsErrCode jerr = jsErrCode(0);
      if (natsSubscription_GetConsumerInfo(&ci, sub, nullptr, &jerr) != NATS_OK) return std::nullopt;
      uint64_t stored = ci->NumPending + ci->Delivered.Consumer;
      jsConsumerInfo_Destroy(ci);
      return stored;
    };
    constexpr int64_t first_chunk_patience_ms = 200;
    while (chunks < obj.chunks) {
      natsMsg* m = nullptr;
      natsStatus s = NATS_TIMEOUT;
      if (chunks == 0 && options.stall_timeout.count() > first_chunk_patience_ms) {
        s = natsSubscription_NextMsg(&m, sub, first_chunk_patience_ms);
        if (s == NATS_TIMEOUT) {
          auto stored = stored_chunks();
          if (stored && *stored < obj.chunks) {
            failure = status(errc::size_mismatch, "\"" + name + "\" is incomplete: " + std::to_string(*stored) +
                                                      " of " + std::to_string(obj.chunks) + " chunks are stored");
            break;
          }
          s = natsSubscription_NextMsg(&m, sub, int64_t(options.stall_timeout.count()) - first_chunk_patience_ms);
        }
      } else {
        s = natsSubscription_NextMsg(&m, sub, int64_t(options.stall_timeout.count()));
      }
      if (s == NATS_TIMEOUT) {
        failure = status(errc::timeout, "cannot get \"" + name + "\": no chunk for " +
                                            std::to_string(options.stall_timeout.count() / 1000) + " s after " +
                                            std::to_string(chunks) + " of " + std::to_string(obj.chunks));
        break;
      }
      if (s != NATS_OK) {
        failure = detail::from_nats(s, "cannot get \"" + name + "\"");
        break;
      }
      const char* data = natsMsg_GetData(m);
      size_t len = size_t(natsMsg_GetDataLength(m));
      uint64_t pending = 1;
      jsMsgMetaData* md = nullptr;
      if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
        pending = md->NumPending;
        jsMsgMetaData_Destroy(md);
      }
      digest.update(data, len);
      out.write(data, std::streamsize(len));
      natsMsg_Destroy(m);
      size += len;
      ++chunks;
      if (!out) {
        failure = status(errc::io_error, "cannot write \"" + name + "\" to the output");
        break;
      }
      if (options.progress) options.progress(size, obj.size);
      if (size > obj.size) {
        failure = status(errc::size_mismatch, "size mismatch for \"" + name + "\": more than the " +
                                                  std::to_string(obj.size) + " bytes its meta gives");
        break;
      }
      if (pending == 0 && chunks < obj.chunks) {
        failure = status(errc::size_mismatch, "\"" + name + "\" is incomplete: " + std::to_string(chunks) + " of " +
                                                  std::to_string(obj.chunks) + " chunks are stored");
        break;
      }
    }
    detail::close_consumer(sub);
  }
  if (!failure.ok()) return failure;
  out.flush();
  if (!out) return status(errc::io_error, "cannot write \"" + name + "\" to the output");
  if (size != obj.size)
    return status(errc::size_mismatch, "size mismatch for \"" + name + "\": its meta gives " +
                                           std::to_string(obj.size) + " bytes, the chunks hold " +
                                           std::to_string(size));
  auto actual = digest.finish();
  if (expected && *expected != actual)
    return status(errc::digest_mismatch, "digest mismatch for \"" + name + "\": its meta gives " + obj.digest +
                                             ", the data read has " + detail::digest_text(actual));
  if (options.progress && obj.size == 0) options.progress(0, 0);
  return found;
}

}  // namespace objectstore::client
