#pragma once
// How two subject patterns relate, as nats-server's sublist.go defines it for import and
// export checks. Internal to platform::accounts; these could move to subject.hpp once
// another module needs them. Pure functions; safe from any thread.
#include <string_view>

namespace platform::accounts::detail {

// True when every subject matched by `subject` is matched by `pattern` (nats-server
// subjectIsSubsetMatch): "foo.*" is covered by "foo.*", "*.*" and ">" but not by "foo.bar".
bool is_subset(std::string_view subject, std::string_view pattern) noexcept;

// True when some literal subject could match both (nats-server SubjectsCollide).
bool subjects_collide(std::string_view a, std::string_view b) noexcept;

}  // namespace platform::accounts::detail
