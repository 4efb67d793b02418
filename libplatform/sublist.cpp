#include "libplatform/sublist.hpp"

#include <algorithm>
#include <mutex>

#include <absl/container/flat_hash_set.h>
#include <absl/container/inlined_vector.h>

#include "libplatform/absl_key.hpp"

#include "libplatform/subject.hpp"

namespace platform {

subscription::subscription(std::string_view subject, std::string_view queue, std::string_view sid)
    : subject_len_(uint32_t(subject.size())), queue_len_(uint32_t(queue.size())), sid_len_(uint32_t(sid.size())) {
  char* p = inline_;
  if (on_heap()) p = heap_ = new char[subject.size() + queue.size() + sid.size()];
  subject.copy(p, subject.size());
  queue.copy(p + subject.size(), queue.size());
  sid.copy(p + subject.size() + queue.size(), sid.size());
}

subscription::~subscription() {
  if (on_heap()) delete[] heap_;
}

// The sizes the comments and BENCHMARKS.md rely on (libstdc++ on x86-64).
static_assert(sizeof(subscription) <= 88, "a subscription plus make_shared's control block should fit 104 bytes");

struct sublist::node {
  explicit node(std::string_view tok) : token(tok) {}
  std::string token;  // the literal this node is reached by ('*' / '>' for wildcards)
  std::unique_ptr<level> next;
  // Plain subscribers. Most subjects have exactly one, kept inline so a SUB on a new
  // subject costs no extra allocation (and an UNSUB one cache miss less).
  subscription_ptr first;
  // Further plain subscribers and queue groups, allocated only when a subject has them.
  // Keeping them out of line makes a node one cache line (64 bytes).
  struct queue_group {
    std::string name;
    std::vector<subscription_ptr> members;
  };
  struct extras {
    std::vector<subscription_ptr> more;
    std::vector<queue_group> queues;
  };
  std::unique_ptr<extras> extra;
  extras& ensure_extra() {
    if (!extra) extra = std::make_unique<extras>();
    return *extra;
  }
  bool empty() const;
};

namespace {

// A level's literal children live in a set of node pointers, hashed and compared by the
// node's own token: 8 bytes per slot instead of a std::string key plus the pointer
// (40 bytes). With 100k+ subjects under one prefix the table no longer fits in cache, and
// every SUB and UNSUB probes it once, so its size is what the per-op cost grows with.
struct token_of {
  template <class Node>
  std::string_view operator()(const Node& n) const noexcept {
    return n.token;
  }
};

}  // namespace

struct sublist::level {
  absl::flat_hash_set<std::unique_ptr<node>, by_string_key<token_of>, by_string_key<token_of>> literals;
  std::unique_ptr<node> pwc;  // '*'
  std::unique_ptr<node> fwc;  // '>'
  bool empty() const { return literals.empty() && !pwc && !fwc; }
};

bool sublist::node::empty() const {
  return !first && (!extra || extra->queues.empty()) && (!next || next->empty());
}

sublist::sublist() : root_(std::make_unique<level>()) {
  static_assert(sizeof(node) <= 64, "a trie node should fit one cache line");
}
sublist::~sublist() = default;

const match_result_ptr& sublist::empty_result() {
  static const match_result_ptr empty = std::make_shared<const match_result>();
  return empty;
}

namespace {

// A burst of SUBs usually adds siblings (`orders.1`, `orders.2`, ...). When
// `next` differs from `cur` only in its last token, returns that token: the caller
// prefetches its slot in the level it already holds, the large one. Otherwise returns
// nothing, and nothing is prefetched: finding another level would cost the very lookups
// the prefetch is meant to hide.
std::string_view sibling_token(std::string_view cur, std::string_view next) {
  auto cut = next.rfind('.');
  if (cut == std::string_view::npos || cut + 1 >= next.size() || cur.size() <= cut + 1) return {};
  if (cur[cut] != '.' || cur.compare(0, cut, next.substr(0, cut)) != 0) return {};
  if (cur.find('.', cut + 1) != std::string_view::npos) return {};
  auto tok = next.substr(cut + 1);
  if (tok == "*" || tok == ">") return {};
  return tok;
}

}  // namespace

void sublist::insert(const subscription_ptr& sub, std::string_view next_subject) {
  subject::token_list toks(sub->subject());
  std::unique_lock lock(mutex_);
  level* l = root_.get();
  level* last_level = nullptr;  // the level holding the subject's last token
  node* n = nullptr;
  for (size_t i = 0; i < toks.size(); ++i) {
    auto tok = toks[i];
    last_level = l;
    if (tok == "*" || tok == ">") {
      auto& slot = tok == "*" ? l->pwc : l->fwc;
      if (!slot) slot = std::make_unique<node>(tok);
      n = slot.get();
    } else {
      // One probe: the node is created only when the token is new.
      n = l->literals.lazy_emplace(tok, [&](const auto& ctor) { ctor(std::make_unique<node>(tok)); })->get();
    }
    if (i + 1 < toks.size()) {
      if (!n->next) n->next = std::make_unique<level>();
      l = n->next.get();
    }
  }
  if (sub->queue().empty()) {
    if (!n->first) {
      n->first = sub;
    } else {
      n->ensure_extra().more.push_back(sub);
    }
  } else {
    auto& queues = n->ensure_extra().queues;
    auto g = std::find_if(queues.begin(), queues.end(),
                          [&](const node::queue_group& q) { return q.name == sub->queue(); });
    if (g == queues.end()) {
      queues.push_back({std::string(sub->queue()), {}});
      g = queues.end() - 1;
    }
    g->members.push_back(sub);
  }
  if (auto tok = sibling_token(sub->subject(), next_subject); !tok.empty())
    last_level->literals.prefetch(tok);
  count_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  lock.unlock();
  if (watch_count_.load(std::memory_order_relaxed) != 0) notify_watches(sub->subject());
}

uint64_t sublist::watch_interest(std::string subject, std::function<void()> fn) {
  std::lock_guard lock(watches_mutex_);
  uint64_t id = next_watch_id_++;
  watches_.push_back({id, std::move(subject), std::make_shared<const std::function<void()>>(std::move(fn))});
  watch_count_.store(watches_.size(), std::memory_order_relaxed);
  return id;
}

void sublist::unwatch_interest(uint64_t id) {
  std::lock_guard lock(watches_mutex_);
  auto it = std::find_if(watches_.begin(), watches_.end(), [&](const interest_watch& w) { return w.id == id; });
  if (it == watches_.end()) return;
  *it = std::move(watches_.back());
  watches_.pop_back();
  watch_count_.store(watches_.size(), std::memory_order_relaxed);
}

void sublist::notify_watches(std::string_view sub_subject) const {
  std::vector<std::shared_ptr<const std::function<void()>>> due;
  {
    std::lock_guard lock(watches_mutex_);
    for (const auto& w : watches_)
      if (subject::matches(sub_subject, w.subject)) due.push_back(w.fn);
  }
  for (const auto& fn : due) (*fn)();
}

namespace {

template <class Vec>
bool erase_one(Vec& v, const subscription_ptr& sub) {
  auto it = std::find(v.begin(), v.end(), sub);
  if (it == v.end()) return false;
  *it = std::move(v.back());
  v.pop_back();
  return true;
}

}  // namespace

bool sublist::remove_locked(const subscription_ptr& sub) {
  subject::token_list toks(sub->subject());
  // Remember the path so empty nodes can be pruned bottom-up without looking any
  // token up twice (the iterators stay valid: nothing is inserted meanwhile).
  using literal_set = decltype(level::literals);
  struct step {
    level* l;
    node* n;
    std::unique_ptr<node>* wildcard;  // the level's '*' or '>' slot; null for a literal
    literal_set::iterator literal;
  };
  step inline_path[16];
  std::vector<step> heap_path;
  step* path = inline_path;
  if (toks.size() > 16) {
    heap_path.resize(toks.size());
    path = heap_path.data();
  }
  size_t depth = 0;
  level* l = root_.get();
  node* n = nullptr;
  for (size_t i = 0; i < toks.size(); ++i) {
    if (!l) return false;
    auto tok = toks[i];
    step st{l, nullptr, nullptr, {}};
    if (tok == "*" || tok == ">") {
      st.wildcard = tok == "*" ? &l->pwc : &l->fwc;
      n = st.wildcard->get();
    } else {
      st.literal = l->literals.find(tok);
      n = st.literal == l->literals.end() ? nullptr : st.literal->get();
    }
    if (!n) return false;
    st.n = n;
    path[depth++] = st;
    l = n->next.get();
  }
  bool removed = false;
  node::extras* extra = n->extra.get();
  if (sub->queue().empty()) {
    if (n->first == sub) {
      // Keep `first` filled while others remain, so empty() stays a cheap check.
      if (!extra || extra->more.empty()) {
        n->first.reset();
      } else {
        n->first = std::move(extra->more.back());
        extra->more.pop_back();
      }
      removed = true;
    } else if (extra) {
      removed = erase_one(extra->more, sub);
    }
  } else if (extra) {
    for (auto g = extra->queues.begin(); g != extra->queues.end(); ++g) {
      if (g->name != sub->queue()) continue;
      removed = erase_one(g->members, sub);
      if (g->members.empty()) extra->queues.erase(g);
      break;
    }
  }
  if (!removed) return false;
  if (extra && extra->more.empty() && extra->queues.empty()) n->extra.reset();
  // Prune: walk back up, dropping nodes (and their levels) that became empty.
  for (size_t i = depth; i-- > 0;) {
    step& st = path[i];
    node* cur = st.n;
    if (cur->next && cur->next->empty()) cur->next.reset();
    if (!cur->empty()) break;
    if (st.wildcard) {
      st.wildcard->reset();
    } else {
      st.l->literals.erase(st.literal);
    }
  }
  count_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

bool sublist::remove(const subscription_ptr& sub) {
  std::unique_lock lock(mutex_);
  bool removed = remove_locked(sub);
  if (removed) generation_.fetch_add(1, std::memory_order_release);
  return removed;
}

void sublist::remove_all(const std::vector<subscription_ptr>& subs) {
  if (subs.empty()) return;
  std::unique_lock lock(mutex_);
  for (auto& s : subs) remove_locked(s);
  generation_.fetch_add(1, std::memory_order_release);
}

void sublist::add_node(const node* n, match_result& out) {
  if (n->first) {
    out.plain.push_back(n->first);
    out.has_internal |= n->first->internal;
  }
  if (!n->extra) return;
  out.plain.insert(out.plain.end(), n->extra->more.begin(), n->extra->more.end());
  for (auto& s : n->extra->more) out.has_internal |= s->internal;
  for (auto& q : n->extra->queues) {
    // Members of one queue name form one group even across different patterns.
    auto g = std::find_if(out.queues.begin(), out.queues.end(),
                          [&](const match_result::group& x) { return x.name == q.name; });
    if (g == out.queues.end()) {
      out.queues.push_back({q.members.front()->queue(), q.members});
    } else {
      g->members.insert(g->members.end(), q.members.begin(), q.members.end());
    }
  }
}

void sublist::match_level(const level* l, const subject::token_list& toks, size_t i,
                          match_result& out) const {
  // Depth-first over the trie without recursion: a subject may have tens of thousands
  // of tokens (with a raised max_control_line), so each '*' branch still to be walked
  // is kept on an explicit stack instead of the thread's stack.
  struct branch {
    const level* l;
    size_t i;
  };
  absl::InlinedVector<branch, 8> todo;
  todo.push_back({l, i});
  while (!todo.empty()) {
    auto [cur, k] = todo.back();
    todo.pop_back();
    for (; cur && k < toks.size(); ++k) {
      bool last = k + 1 == toks.size();
      if (cur->fwc) add_node(cur->fwc.get(), out);
      if (cur->pwc) {
        if (last) {
          add_node(cur->pwc.get(), out);
        } else if (cur->pwc->next) {
          todo.push_back({cur->pwc->next.get(), k + 1});
        }
      }
      auto it = cur->literals.find(toks[k]);
      if (it == cur->literals.end()) break;
      const node* n = it->get();
      if (last) {
        add_node(n, out);
        break;
      }
      cur = n->next.get();
    }
  }
}

match_result_ptr sublist::match(std::string_view subject) const {
  if (subject.empty()) return empty_result();
  subject::token_list toks(subject);
  for (size_t i = 0; i < toks.size(); ++i)
    if (toks[i].empty()) return empty_result();
  auto out = std::make_shared<match_result>();
  {
    std::shared_lock lock(mutex_);
    match_level(root_.get(), toks, 0, *out);
  }
  if (out->empty()) return empty_result();
  return out;
}

}  // namespace platform
