#pragma once
// JSON string escaping for the one-line reports of the load generators
// (dialtone-loadgen, dialtone-jsbench).
#include <cstdio>
#include <string>
#include <string_view>

namespace bench {

inline std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace bench
