// memory_store: the stream_store for `storage: memory` streams. Same semantics as
// rocks_store, including its subject index kept apart from the messages (so a caller
// that passes the wrong subject to delete_message sees the same result with either
// store), with ordered maps under one reader/writer lock.
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "libplatform/subject.hpp"
#include "services/store/stream_store.hpp"

namespace store {
namespace {

struct op {
  enum kind_t { put_message, delete_message, put_meta, delete_meta, put_index, drop_index } kind;
  uint64_t stream_id = 0;
  bool indexed = true;  // put_message, delete_message: the subject index too
  stored_message msg;  // put_message; for delete_message only seq and subject
  std::string key, value;  // meta
};

class memory_batch final : public write_batch {
 public:
  using write_batch::put_message;
  void put_message(uint64_t stream_id, const message_view& v, subject_index index) override {
    stored_message m;
    m.seq = v.seq;
    m.time_ns = v.time_ns;
    m.subject.assign(v.subject);
    m.headers.assign(v.headers);
    m.payload.assign(v.payload);
    ops_.push_back(op{op::put_message, stream_id, index != subject_index::skip, std::move(m), {}, {}});
  }
  using write_batch::delete_message;
  void delete_message(uint64_t stream_id, uint64_t seq, std::string_view subject, uint64_t,
                      subject_index index) override {
    stored_message m;
    m.seq = seq;
    m.subject.assign(subject);
    ops_.push_back(op{op::delete_message, stream_id, index != subject_index::skip, std::move(m), {}, {}});
  }
  void put_index(uint64_t stream_id, std::string_view subject, uint64_t seq) override {
    stored_message m;
    m.seq = seq;
    m.subject.assign(subject);
    ops_.push_back(op{op::put_index, stream_id, true, std::move(m), {}, {}});
  }
  void drop_subject_index(uint64_t stream_id) override { ops_.push_back(op{op::drop_index, stream_id, true, {}, {}, {}}); }
  void put_meta(std::string_view key, std::string_view value) override {
    ops_.push_back(op{op::put_meta, 0, true, {}, std::string(key), std::string(value)});
  }
  void delete_meta(std::string_view key) override {
    ops_.push_back(op{op::delete_meta, 0, true, {}, std::string(key), {}});
  }
  size_t size() const override { return ops_.size(); }

  std::vector<op> ops_;
};

class memory_store final : public stream_store {
 public:
  std::unique_ptr<write_batch> make_batch() override { return std::make_unique<memory_batch>(); }

  store_status write(write_batch& b, bool /*sync*/) override {
    auto* mb = dynamic_cast<memory_batch*>(&b);
    if (mb == nullptr) return store_status::failure("write: batch was made by another store");
    std::unique_lock lock(mutex_);
    // Readers never see half a batch: they wait on the lock. (Out of memory part way
    // would leave half a batch applied; the process is in trouble by then anyway.)
    try {
      for (auto& o : mb->ops_) apply(o);
    } catch (const std::exception& e) {
      return store_status::failure(std::string("write: ") + e.what());
    }
    return {};
  }

  std::optional<stored_message> get(uint64_t stream_id, uint64_t seq) override {
    std::shared_lock lock(mutex_);
    auto* s = find(stream_id);
    if (s == nullptr) return std::nullopt;
    auto it = s->messages.find(seq);
    if (it == s->messages.end()) return std::nullopt;
    return it->second;
  }

  std::optional<message_head> head(uint64_t stream_id, uint64_t seq) override {
    std::shared_lock lock(mutex_);
    auto* s = find(stream_id);
    if (s == nullptr) return std::nullopt;
    auto it = s->messages.find(seq);
    if (it == s->messages.end()) return std::nullopt;
    const auto& m = it->second;
    return message_head{m.seq, m.time_ns, m.subject, m.headers.size(), m.payload.size()};
  }

  void scan(uint64_t stream_id, uint64_t from, size_t max_msgs, size_t max_bytes, std::string_view filter,
            std::vector<stored_message>& out) override {
    out.clear();
    std::shared_lock lock(mutex_);
    auto* s = find(stream_id);
    if (s == nullptr) return;
    size_t bytes = 0;
    auto take = [&](const stored_message& m) {
      bytes += m.subject.size() + m.headers.size() + m.payload.size();
      out.push_back(m);
      return !((max_msgs != 0 && out.size() >= max_msgs) || (max_bytes != 0 && bytes >= max_bytes));
    };
    if (!filter.empty() && platform::subject::is_literal(filter)) {
      // As rocks_store: a literal filter walks that subject's index only.
      auto sub = s->subjects.find(filter);
      if (sub == s->subjects.end()) return;
      for (auto it = sub->second.lower_bound(from); it != sub->second.end(); ++it) {
        auto m = s->messages.find(*it);
        if (m != s->messages.end() && !take(m->second)) break;
      }
      return;
    }
    for (auto it = s->messages.lower_bound(from); it != s->messages.end(); ++it) {
      if (!filter.empty() && !platform::subject::matches(filter, it->second.subject)) continue;
      if (!take(it->second)) break;
    }
  }

  std::optional<uint64_t> first_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) override {
    std::shared_lock lock(mutex_);
    auto* seqs = find_subject(stream_id, subject);
    if (seqs == nullptr) return std::nullopt;
    auto it = seqs->lower_bound(from);
    if (it == seqs->end()) return std::nullopt;
    return *it;
  }

  std::optional<uint64_t> last_on_subject(uint64_t stream_id, std::string_view subject, uint64_t upto) override {
    std::shared_lock lock(mutex_);
    auto* seqs = find_subject(stream_id, subject);
    if (seqs == nullptr) return std::nullopt;
    auto it = seqs->upper_bound(upto);
    if (it == seqs->begin()) return std::nullopt;
    return *std::prev(it);
  }

  std::vector<uint64_t> sequences_on_subject(uint64_t stream_id, std::string_view subject, uint64_t from) override {
    std::shared_lock lock(mutex_);
    auto* seqs = find_subject(stream_id, subject);
    if (seqs == nullptr) return {};
    return std::vector<uint64_t>(seqs->lower_bound(from), seqs->end());
  }

  void for_each_subject(uint64_t stream_id,
                        const std::function<void(std::string_view subject, const subject_state&)>& fn) override {
    // Copied out first so that fn may call back into the store without deadlocking.
    std::vector<std::pair<std::string, subject_state>> states;
    {
      std::shared_lock lock(mutex_);
      auto* s = find(stream_id);
      if (s == nullptr) return;
      states.reserve(s->subjects.size());
      for (auto& [subject, seqs] : s->subjects)
        states.emplace_back(subject, subject_state{*seqs.begin(), *seqs.rbegin(), seqs.size()});
    }
    for (auto& [subject, st] : states) fn(subject, st);
  }

  void for_each_head(uint64_t stream_id, const std::function<void(const message_head&)>& fn) override {
    std::vector<message_head> heads;  // copied out: fn may call back into the store
    {
      std::shared_lock lock(mutex_);
      auto* s = find(stream_id);
      if (s == nullptr) return;
      heads.reserve(s->messages.size());
      for (auto& [seq, m] : s->messages)
        heads.push_back(message_head{seq, m.time_ns, m.subject, m.headers.size(), m.payload.size()});
    }
    for (auto& h : heads) fn(h);
  }

  store_status drop_stream(uint64_t stream_id) override {
    std::unique_lock lock(mutex_);
    streams_.erase(stream_id);
    return {};
  }

  std::vector<std::pair<std::string, std::string>> list_meta(std::string_view prefix) override {
    std::shared_lock lock(mutex_);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = meta_.lower_bound(prefix); it != meta_.end() && it->first.starts_with(prefix); ++it)
      out.emplace_back(it->first, it->second);
    return out;
  }

  std::optional<std::string> get_meta(std::string_view key) override {
    std::shared_lock lock(mutex_);
    auto it = meta_.find(key);
    if (it == meta_.end()) return std::nullopt;
    return it->second;
  }

  uint64_t disk_usage() override { return 0; }

 private:
  struct stream_data {
    std::map<uint64_t, stored_message> messages;
    // Subject -> its sequences. std::string order is unsigned bytewise, the same order
    // rocks_store's '\0'-separated keys give, so for_each_subject agrees between both.
    std::map<std::string, std::set<uint64_t>, std::less<>> subjects;
  };

  stream_data* find(uint64_t stream_id) {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? nullptr : &it->second;
  }

  const std::set<uint64_t>* find_subject(uint64_t stream_id, std::string_view subject) {
    auto* s = find(stream_id);
    if (s == nullptr) return nullptr;
    auto it = s->subjects.find(subject);
    return it == s->subjects.end() ? nullptr : &it->second;
  }

  void apply(op& o) {
    switch (o.kind) {
      case op::put_message: {
        auto& s = streams_[o.stream_id];
        if (o.indexed) s.subjects[o.msg.subject].insert(o.msg.seq);
        s.messages.insert_or_assign(o.msg.seq, o.msg);
        break;
      }
      case op::put_index:
        streams_[o.stream_id].subjects[o.msg.subject].insert(o.msg.seq);
        break;
      case op::drop_index:
        if (auto* s = find(o.stream_id)) s->subjects.clear();
        break;
      case op::delete_message: {
        auto* s = find(o.stream_id);
        if (s == nullptr) break;
        s->messages.erase(o.msg.seq);
        if (!o.indexed) break;
        auto it = s->subjects.find(o.msg.subject);
        if (it != s->subjects.end()) {
          it->second.erase(o.msg.seq);
          if (it->second.empty()) s->subjects.erase(it);
        }
        break;
      }
      case op::put_meta:
        meta_.insert_or_assign(o.key, o.value);
        break;
      case op::delete_meta: {
        auto it = meta_.find(o.key);
        if (it != meta_.end()) meta_.erase(it);
        break;
      }
    }
  }

  std::shared_mutex mutex_;
  std::map<uint64_t, stream_data> streams_;
  std::map<std::string, std::string, std::less<>> meta_;
};

}  // namespace

std::unique_ptr<stream_store> make_memory_store() { return std::make_unique<memory_store>(); }

}  // namespace store
