#include "libplatform/accounts/subject_relations.hpp"

#include <algorithm>
#include <vector>

#include "libplatform/subject.hpp"

namespace platform::accounts::detail {

namespace {

bool is_pwc(std::string_view t) { return t == "*"; }
bool is_fwc(std::string_view t) { return t == ">"; }

bool subset_tokens(const std::vector<std::string_view>& subject,
                   const std::vector<std::string_view>& pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (i >= subject.size()) return false;
    std::string_view p = pattern[i], s = subject[i];
    if (p.empty() || s.empty()) return false;
    if (is_fwc(p)) return true;
    if (is_fwc(s)) return false;  // "foo.>" is wider than anything but '>'
    if (is_pwc(s)) {
      if (!is_pwc(p)) return false;
      continue;
    }
    if (!is_pwc(p) && p != s) return false;
  }
  return subject.size() == pattern.size();
}

}  // namespace

bool is_subset(std::string_view subject, std::string_view pattern) noexcept {
  if (subject == pattern) return !subject.empty();  // the common case, without tokenizing
  std::vector<std::string_view> s, p;
  subject::tokenize(subject, s);
  subject::tokenize(pattern, p);
  return subset_tokens(s, p);
}

bool subjects_collide(std::string_view a, std::string_view b) noexcept {
  if (a == b) return true;
  std::vector<std::string_view> ta, tb;
  subject::tokenize(a, ta);
  subject::tokenize(b, tb);
  bool fwc_a = std::any_of(ta.begin(), ta.end(), is_fwc), fwc_b = std::any_of(tb.begin(), tb.end(), is_fwc);
  bool literal_a = !fwc_a && std::none_of(ta.begin(), ta.end(), is_pwc);
  bool literal_b = !fwc_b && std::none_of(tb.begin(), tb.end(), is_pwc);
  if (literal_a && literal_b) return false;  // equal literals were handled above
  if (literal_a) return subset_tokens(ta, tb);
  if (literal_b) return subset_tokens(tb, ta);
  // Both have wildcards: a shorter pattern can only reach a longer one through '>'.
  if (ta.size() < tb.size() && !fwc_a) return false;
  if (tb.size() < ta.size() && !fwc_b) return false;
  for (size_t i = 0; i < std::min(ta.size(), tb.size()); ++i) {
    std::string_view x = ta[i], y = tb[i];
    if (x.empty() || y.empty()) return false;
    bool wild = is_pwc(x) || is_fwc(x) || is_pwc(y) || is_fwc(y);
    if (!wild && x != y) return false;
  }
  return true;
}

}  // namespace platform::accounts::detail
