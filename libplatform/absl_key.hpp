#pragma once
// Debian's abseil is built with its own string_view type, not std::string_view: hash
// maps keyed by std::string are looked up through this conversion.
#include <absl/strings/string_view.h>

#include <string_view>

namespace platform {

inline absl::string_view absl_key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace platform
