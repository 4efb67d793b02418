#pragma once
// Debian's abseil is built with its own string_view type, not std::string_view: hash
// maps keyed by std::string are looked up through this conversion.
#include <absl/hash/hash.h>
#include <absl/strings/string_view.h>

#include <string_view>

namespace platform {

inline absl::string_view absl_key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Hash and equality for an abseil set of (smart) pointers whose key is a string inside
// the pointee, as `KeyOf{}(object)` returns it. The key is stored once, in the object,
// so a slot is just the pointer; lookups take the key itself (heterogeneous lookup).
template <class KeyOf>
struct by_string_key {
  using is_transparent = void;
  static std::string_view key(std::string_view s) { return s; }
  template <class Ptr>
  static std::string_view key(const Ptr& p) {
    return KeyOf{}(*p);
  }
  template <class A>
  size_t operator()(const A& a) const noexcept {
    return absl::Hash<absl::string_view>{}(absl_key(key(a)));
  }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return key(a) == key(b);
  }
};

}  // namespace platform
