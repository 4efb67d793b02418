#include "libplatform/subject.hpp"

namespace platform::subject {

namespace {

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Walks tokens, calling f(token, is_last); stops early when f returns false.
template <class F>
bool for_each_token(std::string_view s, F&& f) noexcept {
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    bool last = dot == std::string_view::npos;
    std::string_view tok = s.substr(start, last ? std::string_view::npos : dot - start);
    if (!f(tok, last)) return false;
    if (last) return true;
    start = dot + 1;
  }
}

bool valid_impl(std::string_view s, bool allow_wildcards) noexcept {
  if (s.empty()) return false;
  return for_each_token(s, [&](std::string_view tok, bool last) {
    if (tok.empty()) return false;
    for (char c : tok)
      if (is_space(c)) return false;
    if (tok.size() == 1 && (tok[0] == '*' || tok[0] == '>')) {
      if (!allow_wildcards) return false;
      if (tok[0] == '>' && !last) return false;
    }
    return true;
  });
}

}  // namespace

bool valid_subscription(std::string_view s) noexcept { return valid_impl(s, true); }

bool valid_publish(std::string_view s) noexcept { return valid_impl(s, false); }

bool valid_queue(std::string_view q) noexcept {
  if (q.empty()) return false;
  for (char c : q)
    if (is_space(c)) return false;
  return true;
}

bool is_literal(std::string_view s) noexcept {
  return for_each_token(s, [](std::string_view tok, bool) {
    return !(tok.size() == 1 && (tok[0] == '*' || tok[0] == '>'));
  });
}

bool matches(std::string_view pattern, std::string_view subject) noexcept {
  size_t p = 0, s = 0;
  while (true) {
    size_t pd = pattern.find('.', p);
    size_t sd = subject.find('.', s);
    std::string_view pt = pattern.substr(p, pd == std::string_view::npos ? pd : pd - p);
    std::string_view st = subject.substr(s, sd == std::string_view::npos ? sd : sd - s);
    if (pt == ">") return true;  // matches this and every remaining token
    if (pt != "*" && pt != st) return false;
    bool p_end = pd == std::string_view::npos, s_end = sd == std::string_view::npos;
    if (p_end || s_end) return p_end && s_end;
    p = pd + 1;
    s = sd + 1;
  }
}

void tokenize(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  for_each_token(s, [&](std::string_view tok, bool) {
    out.push_back(tok);
    return true;
  });
}

token_list::token_list(std::string_view s) {
  for_each_token(s, [&](std::string_view tok, bool) {
    if (size_ < inline_capacity) {
      inline_[size_++] = tok;
      return true;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + inline_capacity);
    heap_.push_back(tok);
    ++size_;
    return true;
  });
}

}  // namespace platform::subject
