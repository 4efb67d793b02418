#include "libplatform/sublist.hpp"

#include <algorithm>
#include <mutex>

#include <absl/container/flat_hash_map.h>

#include "libplatform/absl_key.hpp"

#include "libplatform/subject.hpp"

namespace platform {

struct sublist::node {
  std::unique_ptr<level> next;
  // Plain subscribers. Most subjects have exactly one, kept inline so a SUB on a new
  // subject costs no extra allocation (and an UNSUB one cache miss less).
  subscription_ptr first;
  std::vector<subscription_ptr> more;
  struct queue_group {
    std::string name;
    std::vector<subscription_ptr> members;
  };
  std::vector<queue_group> queues;
  bool empty() const;
};

struct sublist::level {
  absl::flat_hash_map<std::string, std::unique_ptr<node>> literals;
  std::unique_ptr<node> pwc;  // '*'
  std::unique_ptr<node> fwc;  // '>'
  bool empty() const { return literals.empty() && !pwc && !fwc; }
};

bool sublist::node::empty() const {
  return !first && queues.empty() && (!next || next->empty());
}

sublist::sublist() : root_(std::make_unique<level>()) {}
sublist::~sublist() = default;

const match_result_ptr& sublist::empty_result() {
  static const match_result_ptr empty = std::make_shared<const match_result>();
  return empty;
}

void sublist::insert(const subscription_ptr& sub) {
  subject::token_list toks(sub->subject);
  std::unique_lock lock(mutex_);
  level* l = root_.get();
  node* n = nullptr;
  for (size_t i = 0; i < toks.size(); ++i) {
    auto tok = toks[i];
    std::unique_ptr<node>* slot;
    if (tok == "*") {
      slot = &l->pwc;
    } else if (tok == ">") {
      slot = &l->fwc;
    } else {
      slot = &l->literals.try_emplace(absl_key(tok)).first->second;
    }
    if (!*slot) *slot = std::make_unique<node>();
    n = slot->get();
    if (i + 1 < toks.size()) {
      if (!n->next) n->next = std::make_unique<level>();
      l = n->next.get();
    }
  }
  if (sub->queue.empty()) {
    if (!n->first) {
      n->first = sub;
    } else {
      n->more.push_back(sub);
    }
  } else {
    auto g = std::find_if(n->queues.begin(), n->queues.end(),
                          [&](const node::queue_group& q) { return q.name == sub->queue; });
    if (g == n->queues.end()) {
      n->queues.push_back({sub->queue, {}});
      g = n->queues.end() - 1;
    }
    g->members.push_back(sub);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
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
  subject::token_list toks(sub->subject);
  // Remember the path so empty nodes can be pruned bottom-up without looking any
  // token up twice (the iterators stay valid: nothing is inserted meanwhile).
  using literal_map = decltype(level::literals);
  struct step {
    level* l;
    std::unique_ptr<node>* slot;
    literal_map::iterator literal;  // end() for '*' and '>'
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
    step st{l, nullptr, l->literals.end()};
    if (tok == "*") {
      st.slot = &l->pwc;
    } else if (tok == ">") {
      st.slot = &l->fwc;
    } else {
      st.literal = l->literals.find(absl_key(tok));
      if (st.literal == l->literals.end()) return false;
      st.slot = &st.literal->second;
    }
    n = st.slot->get();
    if (!n) return false;
    path[depth++] = st;
    l = n->next.get();
  }
  bool removed = false;
  if (sub->queue.empty()) {
    if (n->first == sub) {
      // Keep `first` filled while others remain, so empty() stays a cheap check.
      if (n->more.empty()) {
        n->first.reset();
      } else {
        n->first = std::move(n->more.back());
        n->more.pop_back();
      }
      removed = true;
    } else {
      removed = erase_one(n->more, sub);
    }
  } else {
    for (auto g = n->queues.begin(); g != n->queues.end(); ++g) {
      if (g->name != sub->queue) continue;
      removed = erase_one(g->members, sub);
      if (g->members.empty()) n->queues.erase(g);
      break;
    }
  }
  if (!removed) return false;
  // Prune: walk back up, dropping nodes (and their levels) that became empty.
  for (size_t i = depth; i-- > 0;) {
    step& st = path[i];
    node* cur = st.slot->get();
    if (cur->next && cur->next->empty()) cur->next.reset();
    if (!cur->empty()) break;
    if (st.literal == st.l->literals.end()) {
      st.slot->reset();
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
  if (n->first) out.plain.push_back(n->first);
  out.plain.insert(out.plain.end(), n->more.begin(), n->more.end());
  for (auto& q : n->queues) {
    // Members of one queue name form one group even across different patterns.
    auto g = std::find_if(out.queues.begin(), out.queues.end(),
                          [&](const match_result::group& x) { return x.name == q.name; });
    if (g == out.queues.end()) {
      out.queues.push_back({std::string_view(q.members.front()->queue), q.members});
    } else {
      g->members.insert(g->members.end(), q.members.begin(), q.members.end());
    }
  }
}

void sublist::match_level(const level* l, const subject::token_list& toks, size_t i,
                          match_result& out) const {
  for (; l && i < toks.size(); ++i) {
    bool last = i + 1 == toks.size();
    if (l->fwc) add_node(l->fwc.get(), out);
    if (l->pwc) {
      if (last) {
        add_node(l->pwc.get(), out);
      } else {
        match_level(l->pwc->next.get(), toks, i + 1, out);
      }
    }
    auto it = l->literals.find(absl_key(toks[i]));
    if (it == l->literals.end()) return;
    const node* n = it->second.get();
    if (last) {
      add_node(n, out);
      return;
    }
    l = n->next.get();
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
