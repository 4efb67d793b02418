#include "actors/permissions.hpp"

#include "libplatform/subject.hpp"

namespace actors {

namespace {

using platform::subject::matches;

}  // namespace

permission_set::rules permission_set::compile(const std::optional<platform::accounts::subject_permission>& p) {
  rules r;
  if (!p) return r;
  r.active = true;
  r.has_allow = p->has_allow;
  auto split = [](const std::string& s) {
    entry e;
    auto sp = s.find(' ');
    e.subject = s.substr(0, sp);
    if (sp != std::string::npos) {
      auto q = s.find_first_not_of(' ', sp);
      if (q != std::string::npos) e.queue = s.substr(q);
    }
    return e;
  };
  for (auto& a : p->allow) r.allow.push_back(split(a));
  for (auto& d : p->deny) r.deny.push_back(split(d));
  return r;
}

permission_set::permission_set(const platform::accounts::user_permissions& p)
    : responses_max(p.responses_max), responses_expires(p.responses_expires), pub_(compile(p.publish)),
      sub_(compile(p.subscribe)) {}

bool permission_set::can_publish(std::string_view subject) const {
  if (!pub_.active) return true;
  bool allowed = !pub_.has_allow;
  for (auto& e : pub_.allow)
    if (matches(e.subject, subject)) {
      allowed = true;
      break;
    }
  if (!allowed) return false;
  for (auto& e : pub_.deny)
    if (matches(e.subject, subject)) return false;
  return true;
}

bool permission_set::can_subscribe(std::string_view subject, std::string_view queue) const {
  if (!sub_.active) return true;
  // The SUB subject's tokens are taken literally: an allow of "foo.>" covers a SUB on
  // "foo.*", an allow of "foo.bar" does not.
  auto check = [&](const std::vector<entry>& list, bool& plain_hit, bool& queue_hit, bool& queue_named) {
    for (auto& e : list) {
      if (!matches(e.subject, subject)) continue;
      if (e.queue.empty()) {
        plain_hit = true;
      } else {
        queue_hit = true;
        if (e.queue == queue) queue_named = true;
      }
    }
  };
  bool allowed = true;
  if (sub_.has_allow) {
    bool plain = false, qhit = false, qnamed = false;
    check(sub_.allow, plain, qhit, qnamed);
    allowed = plain;
    if (!queue.empty() && qhit) allowed = qnamed;
  }
  if (allowed && !sub_.deny.empty()) {
    bool plain = false, qhit = false, qnamed = false;
    check(sub_.deny, plain, qhit, qnamed);
    allowed = !plain;
    if (!queue.empty() && qhit) allowed = !qnamed;
  }
  return allowed;
}

bool permission_set::delivery_denied(std::string_view subject) const {
  for (auto& e : sub_.deny)
    if (e.queue.empty() && matches(e.subject, subject)) return true;
  return false;
}

}  // namespace actors
