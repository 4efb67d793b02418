#pragma once
// Shared by the config and accounts tests: run a step that must fail with a
// config::parse_error and hand back its full "file:line:column: reason" text.
#include <catch2/catch.hpp>
#include <string>

#include "libplatform/config/conf_parser.hpp"

namespace config_test_support {

template <class Step>
std::string parse_error_text(Step&& step, const std::string& what_was_expected) {
  try {
    step();
  } catch (const platform::config::parse_error& e) {
    return e.what();
  }
  FAIL("expected a parse_error: " << what_was_expected);
  return {};
}

}  // namespace config_test_support
