#pragma once
// Subject syntax: validation and the reference matcher.
// Tokens are separated by '.', are case-sensitive and must be non-empty. '*' matches
// exactly one token and '>' one or more trailing tokens, but only as whole tokens.
// Pure functions; safe from any thread.
#include <string_view>
#include <vector>

namespace platform::subject {

// A subject a client may subscribe to: non-empty tokens, no whitespace, '>' only last.
bool valid_subscription(std::string_view s) noexcept;

// A subject a client may publish to in pedantic mode: valid and without wildcard tokens.
bool valid_publish(std::string_view s) noexcept;

// A queue group name: non-empty and without whitespace.
bool valid_queue(std::string_view q) noexcept;

// True when the subject has no '*' or '>' token.
bool is_literal(std::string_view s) noexcept;

// Reference matcher: does `pattern` (may hold wildcards) match the literal-token
// `subject`? Wildcard tokens in `subject` are treated as literals. Used by tests and
// by permission checks; the hot path uses the sublist.
bool matches(std::string_view pattern, std::string_view subject) noexcept;

// Splits on '.' without validating; views point into `s`.
void tokenize(std::string_view s, std::vector<std::string_view>& out);

// The tokens of one subject, without allocating for subjects of up to 16 tokens (the
// subject index tokenizes on every SUB, UNSUB and cache miss).
class token_list {
 public:
  explicit token_list(std::string_view s);
  size_t size() const noexcept { return size_; }
  std::string_view operator[](size_t i) const noexcept { return heap_.empty() ? inline_[i] : heap_[i]; }

 private:
  static constexpr size_t inline_capacity = 16;
  std::string_view inline_[inline_capacity];
  std::vector<std::string_view> heap_;
  size_t size_ = 0;
};

}  // namespace platform::subject
