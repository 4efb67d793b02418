// Buckets and object metadata: create/open/list/delete buckets, info, list, remove,
// links, seal, status and watch. Putting and getting the data is obj_transfer.cpp.
#include "objectstore/client/obj_client.hpp"

#include <algorithm>
#include <chrono>

#include "objectstore/client/obj_wire.hpp"

namespace objectstore::client {

using detail::context;

std::string_view describe(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid argument";
    case errc::not_enabled: return "JetStream is not enabled on the server";
    case errc::timeout: return "timed out waiting for the server";
    case errc::connection_lost: return "connection to the server lost";
    case errc::bucket_not_found: return "bucket not found";
    case errc::bucket_exists: return "bucket already exists with a different configuration";
    case errc::object_not_found: return "object not found";
    case errc::object_exists: return "an object already exists with that name";
    case errc::bucket_sealed: return "bucket is sealed";
    case errc::bucket_full: return "bucket is full";
    case errc::bucket_link: return "object is a link to a bucket";
    case errc::link_to_link: return "a link cannot point to another link";
    case errc::digest_mismatch: return "digest mismatch";
    case errc::size_mismatch: return "size mismatch";
    case errc::bad_meta: return "invalid object meta";
    case errc::io_error: return "input/output error";
    case errc::server_error: return "server error";
    case errc::client_error: return "client library error";
  }
  return "unknown error";
}

bool valid_bucket_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

namespace {

status check_bucket_name(std::string_view name) {
  if (valid_bucket_name(name)) return {};
  return status(errc::invalid_argument,
                "invalid bucket name \"" + std::string(name) + "\" (use letters, digits, _ and -)");
}

// Object names: any non-empty UTF-8 text (the meta is JSON).
status check_object_name(std::string_view name) {
  if (name.empty()) return status(errc::invalid_argument, "object name must not be empty");
  for (size_t i = 0; i < name.size();) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= name.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(name[i + k]) & 0xc0) == 0x80;
    if (!ok) return status(errc::invalid_argument, "object name is not valid UTF-8");
    i += len;
  }
  return {};
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The stream config nats.go and nats.js create a bucket with.
std::string stream_config(const bucket_config& c) {
  nlohmann::ordered_json j;
  j["name"] = detail::stream_name(c.bucket);
  if (!c.description.empty()) j["description"] = c.description;
  j["subjects"] = {"$O." + c.bucket + ".C.>", "$O." + c.bucket + ".M.>"};
  j["retention"] = "limits";
  j["max_consumers"] = -1;
  j["max_msgs"] = -1;
  j["max_bytes"] = c.max_bytes > 0 ? c.max_bytes : -1;
  j["max_age"] = int64_t(c.ttl.count());
  j["max_msgs_per_subject"] = -1;
  j["max_msg_size"] = -1;
  j["discard"] = "new";
  j["storage"] = c.storage == storage_type::memory ? "memory" : "file";
  j["num_replicas"] = c.replicas > 0 ? c.replicas : 1;
  j["allow_rollup_hdrs"] = true;
  j["allow_direct"] = true;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// An object_info from a meta message a consumer delivered; `pending` gets how many
// messages the consumer has left after it.
result<object_info> info_from_msg(natsMsg* m, uint64_t* pending) {
  auto info = detail::decode_info(std::string_view(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))));
  jsMsgMetaData* md = nullptr;
  if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
    if (info) {
      info->revision = md->Sequence.Stream;
      if (md->Timestamp > 0) info->mtime_ns = md->Timestamp;
    }
    *pending = md->NumPending;
    jsMsgMetaData_Destroy(md);
  } else {
    *pending = 0;
  }
  return info;
}

}  // namespace

// ------------------------------------------------------------------ object_store

object_store::object_store(natsConnection* nc, std::chrono::milliseconds wait)
    : ctx_(std::make_shared<context>()) {
  ctx_->nc = nc;
  ctx_->wait = wait;
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = int64_t(wait.count());
  if (natsConnection_JetStream(&ctx_->js, nc, &o) != NATS_OK) ctx_->js = nullptr;
}

object_store::~object_store() = default;

result<bucket> object_store::create_bucket(const bucket_config& config) {
  if (auto s = check_bucket_name(config.bucket); !s) return s;
  if (config.ttl.count() < 0) return status(errc::invalid_argument, "the TTL must not be negative");
  auto r = detail::api_request(*ctx_, "STREAM.CREATE." + detail::stream_name(config.bucket), stream_config(config),
                               config.bucket);
  if (!r) return r.error();
  return bucket(ctx_, config.bucket);
}

result<bucket> object_store::open_bucket(const std::string& name) {
  if (auto s = check_bucket_name(name); !s) return s;
  auto r = detail::api_request(*ctx_, "STREAM.INFO." + detail::stream_name(name), "", name);
  if (!r) return r.error();
  return bucket(ctx_, name);
}

status object_store::delete_bucket(const std::string& name) {
  if (auto s = check_bucket_name(name); !s) return s;
  auto r = detail::api_request(*ctx_, "STREAM.DELETE." + detail::stream_name(name), "", name);
  return r ? status{} : r.error();
}

result<std::vector<bucket_status>> object_store::list_buckets() {
  std::vector<bucket_status> out;
  for (uint64_t offset = 0;;) {
    auto r = detail::api_request(*ctx_, "STREAM.LIST", nlohmann::json{{"offset", offset}}.dump(), "");
    if (!r) return r.error();
    auto streams = r->find("streams");
    if (streams == r->end() || !streams->is_array() || streams->empty()) break;
    for (const auto& si : *streams) {
      bucket_status st = detail::status_from_stream_info(si);
      if (st.backing_stream.rfind("OBJ_", 0) == 0 && st.backing_stream.size() > 4) out.push_back(std::move(st));
    }
    offset += streams->size();
    if (offset >= r->value("total", uint64_t(0))) break;
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.bucket < b.bucket; });
  return out;
}

// ------------------------------------------------------------------ bucket: metadata

bucket::bucket(std::shared_ptr<context> ctx, std::string name) : ctx_(std::move(ctx)), name_(std::move(name)) {}

result<object_info> bucket::info(const std::string& name, bool include_deleted) {
  if (auto s = check_object_name(name); !s) return s;
  auto m = detail::last_message(*ctx_, name_, detail::meta_subject(name_, name));
  if (!m) {
    if (m.code() == errc::object_not_found) return status(errc::object_not_found, "object not found: " + name);
    return m.error();
  }
  auto info = detail::decode_info(m->data);
  if (!info) return status(errc::bad_meta, "invalid meta for object \"" + name + "\" in bucket \"" + name_ + "\"");
  info->revision = m->seq;
  if (m->time_ns > 0) info->mtime_ns = m->time_ns;  // the server's time, as nats.go reports it
  if (info->deleted && !include_deleted) return status(errc::object_not_found, "object not found: " + name);
  return info;
}

result<std::vector<object_info>> bucket::list(bool include_deleted) {
  std::vector<object_info> out;
  // An empty bucket has no meta at all: say so without a consumer that would wait.
  auto probe = detail::last_message(*ctx_, name_, detail::meta_filter(name_));
  if (!probe) {
    if (probe.code() == errc::object_not_found) return out;
    return probe.error();
  }
  auto sub = detail::ordered_consumer(*ctx_, name_, detail::meta_filter(name_), js_DeliverLastPerSubject);
  if (!sub) return sub.error();
  status failure;
  for (;;) {
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, *sub, int64_t(ctx_->wait.count()));
    if (s != NATS_OK) {
      failure = detail::from_nats(s, "cannot list bucket \"" + name_ + "\"");
      break;
    }
    uint64_t pending = 0;
    auto info = info_from_msg(m, &pending);
    natsMsg_Destroy(m);
    if (info && (include_deleted || !info->deleted)) out.push_back(std::move(*info));
    if (pending == 0) break;
  }
  detail::close_consumer(*sub);
  if (!failure) return failure;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

result<object_info> bucket::publish_meta(const object_info& info) {
  object_info stored = info;
  stored.mtime_ns = now_ns();
  std::string subject = detail::meta_subject(name_, info.name);
  std::string body = detail::encode_info(stored);
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), int(body.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
  natsMsg* reply = nullptr;
  if (s == NATS_OK) s = natsConnection_RequestMsg(&reply, ctx_->nc, msg, int64_t(ctx_->wait.count()));
  natsMsg_Destroy(msg);
  if (s == NATS_NO_RESPONDERS) return status(errc::bucket_not_found, "bucket not found: " + name_);
  if (s != NATS_OK) return detail::from_nats(s, "cannot store the meta of \"" + info.name + "\"");
  auto ack = nlohmann::json::parse(std::string_view(natsMsg_GetData(reply), size_t(natsMsg_GetDataLength(reply))),
                                   nullptr, false);
  natsMsg_Destroy(reply);
  if (ack.is_discarded() || !ack.is_object()) return status(errc::server_error, "invalid publish acknowledgement");
  if (auto e = ack.find("error"); e != ack.end() && e->is_object()) return detail::from_api_error(*e, name_);
  if (auto seq = ack.find("seq"); seq != ack.end() && seq->is_number_unsigned()) stored.revision = seq->get<uint64_t>();
  return stored;
}

status bucket::purge_chunks(const std::string& nuid) {
  nlohmann::json req = {{"filter", detail::chunk_subject(name_, nuid)}};
  auto r = detail::api_request(*ctx_, "STREAM.PURGE." + detail::stream_name(name_), req.dump(), name_);
  return r ? status{} : r.error();
}

result<object_info> bucket::remove(const std::string& name) {
  auto current = info(name);
  if (!current) return current.error();
  object_info marker = *current;
  marker.deleted = true;
  marker.size = 0;
  marker.chunks = 0;
  marker.digest.clear();
  auto stored = publish_meta(marker);
  if (!stored) return stored.error();
  if (auto s = purge_chunks(current->nuid); !s) return s;
  return stored;
}

result<object_info> bucket::add_link(const std::string& name, const object_info& target) {
  if (auto s = check_object_name(name); !s) return s;
  if (target.deleted) return status(errc::object_not_found, "cannot link to a deleted object: " + target.name);
  if (target.is_link())
    return status(errc::link_to_link, "\"" + target.name + "\" is a link; links cannot point to links");
  if (target.bucket.empty() || target.name.empty())
    return status(errc::invalid_argument, "the link target needs a bucket and a name");
  auto existing = info(name, true);
  if (!existing && existing.code() != errc::object_not_found) return existing.error();
  if (existing && !existing->deleted && !existing->is_link())
    return status(errc::object_exists, "an object named \"" + name + "\" already exists in bucket \"" + name_ + "\"");
  object_info link;
  link.name = name;
  link.link = object_link{target.bucket, target.name};
  link.bucket = name_;
  link.nuid = detail::new_nuid();
  return publish_meta(link);
}

result<object_info> bucket::add_bucket_link(const std::string& name, const std::string& target_bucket) {
  if (auto s = check_object_name(name); !s) return s;
  if (auto s = check_bucket_name(target_bucket); !s) return s;
  auto existing = info(name, true);
  if (!existing && existing.code() != errc::object_not_found) return existing.error();
  if (existing && !existing->deleted && !existing->is_link())
    return status(errc::object_exists, "an object named \"" + name + "\" already exists in bucket \"" + name_ + "\"");
  object_info link;
  link.name = name;
  link.link = object_link{target_bucket, ""};
  link.bucket = name_;
  link.nuid = detail::new_nuid();
  return publish_meta(link);
}

status bucket::seal() {
  std::string stream = detail::stream_name(name_);
  auto si = detail::api_request(*ctx_, "STREAM.INFO." + stream, "", name_);
  if (!si) return si.error();
  auto cfg = si->find("config");
  if (cfg == si->end() || !cfg->is_object()) return status(errc::server_error, "STREAM.INFO without a config");
  nlohmann::json update = *cfg;  // every field as the server has it, only sealed changed
  update["sealed"] = true;
  auto r = detail::api_request(*ctx_, "STREAM.UPDATE." + stream, update.dump(), name_);
  return r ? status{} : r.error();
}

result<bucket_status> bucket::stat() {
  auto si = detail::api_request(*ctx_, "STREAM.INFO." + detail::stream_name(name_), "", name_);
  if (!si) return si.error();
  return detail::status_from_stream_info(*si);
}

// ------------------------------------------------------------------ watch

result<std::unique_ptr<watcher>> bucket::watch(const watch_options& options) {
  std::unique_ptr<watcher> w(new watcher());
  w->ctx_ = ctx_;
  w->bucket_ = name_;
  w->options_ = options;
  jsDeliverPolicy policy = options.updates_only      ? js_DeliverNew
                           : options.include_history ? js_DeliverAll
                                                     : js_DeliverLastPerSubject;
  if (options.updates_only) {
    w->initial_done_ = true;
  } else {
    // With nothing stored yet, the current values end before they begin.
    auto probe = detail::last_message(*ctx_, name_, detail::meta_filter(name_));
    if (!probe && probe.code() != errc::object_not_found) return probe.error();
    w->marker_pending_ = !probe;
  }
  auto sub = detail::ordered_consumer(*ctx_, name_, detail::meta_filter(name_), policy);
  if (!sub) return sub.error();
  w->sub_ = *sub;
  return w;
}

watcher::~watcher() { detail::close_consumer(sub_); }

result<std::optional<object_info>> watcher::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (marker_pending_) {
      marker_pending_ = false;
      initial_done_ = true;
      return std::optional<object_info>();
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, sub_, std::max<int64_t>(1, left.count()));
    if (s == NATS_TIMEOUT) return status(errc::timeout, "no update within the timeout");
    if (s != NATS_OK) return detail::from_nats(s, "watching bucket \"" + bucket_ + "\" failed");
    uint64_t pending = 0;
    auto info = info_from_msg(m, &pending);
    natsMsg_Destroy(m);
    if (!initial_done_ && pending == 0) marker_pending_ = true;
    if (!info || (options_.ignore_deletes && info->deleted)) continue;  // the marker may still be due
    return std::optional<object_info>(std::move(*info));
  }
}

}  // namespace objectstore::client
