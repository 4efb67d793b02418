#pragma once
// Maps subjects from one pattern to another, as nats-server does for stream import
// `to`, service import `to` and mappings: wildcards of the source are captured and
// placed into the destination by `$N` or `{{wildcard(N)}}` (1-based), or, for `*`
// tokens in the destination, in order. A trailing `>` carries the rest over.
// Immutable after create(); safe to use from any thread.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace platform::accounts {

class subject_transform {
 public:
  // Returns nullopt and sets *error for an impossible mapping (e.g. $3 with two
  // wildcards, a destination '>' without a source '>', an invalid subject).
  static std::optional<subject_transform> create(std::string_view from, std::string_view to,
                                                 std::string* error = nullptr);
  // A prefix mapping: "<prefix>.<subject>".
  static subject_transform prefix(std::string_view prefix);

  bool matches(std::string_view subject) const;
  // `subject` must match the source pattern (check with matches()).
  std::string apply(std::string_view subject) const;
  // True when apply() returns every subject unchanged ("svc.*" -> "svc.$1"): callers
  // then use the subject they have instead of building a copy per message.
  bool identity() const { return identity_; }
  const std::string& from() const { return from_; }
  const std::string& to() const { return to_; }
  // True when the destination places every wildcard of the source. Imports need this
  // (nats-server's strict transforms): a service import's mapping must be reversible.
  bool uses_every_wildcard() const { return uses_every_wildcard_; }
  // The mapping back (nats-server reverse()): "svc.*.*" -> "req.$2.$1" gives
  // "req.*.*" -> "svc.$2.$1". A service import is configured exporter subject -> local
  // subject but runs local -> exporter. nullopt unless uses_every_wildcard().
  std::optional<subject_transform> reverse() const;

 private:
  struct part {
    enum kind { literal, wildcard, rest } type;
    std::string text;  // literal token
    int index = 0;     // wildcard number (0-based)
  };
  std::string from_, to_;
  std::vector<int> wildcard_positions_;  // token index in the source of each '*'
  bool source_has_rest_ = false;         // source ends in '>'
  std::vector<part> parts_;
  std::string prefix_;                   // prefix mode when non-empty
  bool uses_every_wildcard_ = true;
  bool identity_ = false;
};

}  // namespace platform::accounts
