// Password and token checks, as nats-server's comparePasswords (server/auth.go): a stored
// value that looks like a bcrypt hash is verified with bcrypt, anything else is compared
// as plain text in constant time.
#include <crypt.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "libplatform/accounts/auth_config.hpp"
#include "libplatform/crypto/encoding.hpp"

namespace platform::accounts {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

using crypto::constant_time_equal;

bool bcrypt_matches(std::string_view hash, std::string_view given) {
  // crypt() reads C strings; a NUL inside the password would cut it short and let a
  // prefix of the real password through.
  if (given.find('\0') != std::string_view::npos || hash.find('\0') != std::string_view::npos) return false;
  std::string phrase(given), setting(hash);
  // crypt_data is large (tens of KiB): keep it off the stack. crypt_rn is reentrant.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  bool ok = out != nullptr && out[0] != '*' && constant_time_equal(out, hash);
  // Do not leave the derived hash or the password in freed memory.
  explicit_bzero(data.get(), sizeof(crypt_data));
  explicit_bzero(phrase.data(), phrase.size());
  return ok;
}

}  // namespace

bool is_bcrypt(std::string_view stored) {
  // ^\$2[abxy]\$\d{2}\$  (nats-server's validBcryptPrefix)
  return stored.size() >= 7 && stored[0] == '$' && stored[1] == '2' &&
         (stored[2] == 'a' || stored[2] == 'b' || stored[2] == 'x' || stored[2] == 'y') && stored[3] == '$' &&
         is_digit(stored[4]) && is_digit(stored[5]) && stored[6] == '$';
}

bool password_matches(std::string_view stored, std::string_view given) {
  if (is_bcrypt(stored)) return bcrypt_matches(stored, given);
  return constant_time_equal(stored, given);
}

}  // namespace platform::accounts
