#include "libplatform/crypto/nkeys.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <memory>
#include <stdexcept>

#include "libplatform/crypto/encoding.hpp"

namespace platform::crypto {

namespace {

constexpr uint8_t seed_prefix = 18 << 3;  // 'S'

// libsodium must be initialised once before use (thread-safe, idempotent).
void sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

bool known_type(uint8_t prefix) {
  switch (static_cast<key_type>(prefix)) {
    case key_type::account:
    case key_type::cluster:
    case key_type::server:
    case key_type::operator_:
    case key_type::user:
    case key_type::curve:
      return true;
  }
  return false;
}

// Decodes base32 and checks the trailing CRC; returns the bytes before it.
std::optional<std::string> decode_checked(std::string_view text) {
  auto raw = base32_decode(text);
  if (!raw || raw->size() < 3) return std::nullopt;
  size_t n = raw->size() - 2;
  uint16_t want = static_cast<uint16_t>(static_cast<uint8_t>((*raw)[n]) | (static_cast<uint8_t>((*raw)[n + 1]) << 8));
  if (crc16(std::string_view(raw->data(), n)) != want) return std::nullopt;
  raw->resize(n);
  return raw;
}

std::string encode_checked(std::string body) {
  uint16_t c = crc16(body);
  body.push_back(static_cast<char>(c & 0xFF));
  body.push_back(static_cast<char>(c >> 8));
  return base32_encode(body);
}

// libsodium's secret key: the seed followed by the public key.
struct secret_key {
  unsigned char bytes[crypto_sign_SECRETKEYBYTES];
  ~secret_key() { sodium_memzero(bytes, sizeof bytes); }
};

raw_key public_from_seed(const raw_key& seed) {
  sodium_ready();
  raw_key pub{};
  secret_key sk;
  if (crypto_sign_seed_keypair(pub.data(), sk.bytes, seed.data()) != 0) throw std::runtime_error("ed25519: bad seed");
  return pub;
}

}  // namespace

char type_letter(key_type t) noexcept {
  switch (t) {
    case key_type::account: return 'A';
    case key_type::cluster: return 'C';
    case key_type::server: return 'N';
    case key_type::operator_: return 'O';
    case key_type::user: return 'U';
    case key_type::curve: return 'X';
  }
  return '?';
}

std::string_view type_name(key_type t) noexcept {
  switch (t) {
    case key_type::account: return "account";
    case key_type::cluster: return "cluster";
    case key_type::server: return "server";
    case key_type::operator_: return "operator";
    case key_type::user: return "user";
    case key_type::curve: return "curve";
  }
  return "unknown";
}

std::optional<public_key> decode_public_key(std::string_view text, std::optional<key_type> want) {
  if (text.size() != 56) return std::nullopt;
  auto raw = decode_checked(text);
  if (!raw || raw->size() != 33) return std::nullopt;
  uint8_t prefix = static_cast<uint8_t>((*raw)[0]);
  if (!known_type(prefix)) return std::nullopt;
  public_key k{static_cast<key_type>(prefix), {}};
  if (want && k.type != *want) return std::nullopt;
  std::copy(raw->begin() + 1, raw->end(), k.key.begin());
  return k;
}

bool is_public_key(std::string_view text, key_type want) { return decode_public_key(text, want).has_value(); }

std::string encode_public_key(key_type t, const raw_key& key) {
  std::string body(1, static_cast<char>(t));
  body.append(reinterpret_cast<const char*>(key.data()), key.size());
  return encode_checked(std::move(body));
}

bool verify(std::string_view public_nkey, std::string_view data, std::string_view signature) {
  if (signature.size() != crypto_sign_BYTES) return false;
  auto k = decode_public_key(public_nkey);
  if (!k) return false;
  sodium_ready();
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                                     k->key.data()) == 0;
}

std::string make_nonce() {
  unsigned char raw[11];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no random bytes");
  return base64url_encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

keypair::keypair(key_type t, const raw_key& seed) : type_(t), seed_(seed) {
  public_ = encode_public_key(t, public_from_seed(seed_));
}

keypair::keypair(const keypair&) = default;
keypair& keypair::operator=(const keypair&) = default;
keypair::~keypair() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

keypair keypair::generate(key_type t) {
  raw_key seed{};
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) throw std::runtime_error("no random bytes");
  keypair k(t, seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return k;
}

std::optional<keypair> keypair::from_seed(std::string_view text) {
  if (text.size() != 58) return std::nullopt;
  auto raw = decode_checked(text);
  if (!raw || raw->size() != 34) return std::nullopt;
  uint8_t b1 = static_cast<uint8_t>((*raw)[0]), b2 = static_cast<uint8_t>((*raw)[1]);
  if ((b1 & 0xF8) != seed_prefix) {
    OPENSSL_cleanse(raw->data(), raw->size());
    return std::nullopt;
  }
  uint8_t t = static_cast<uint8_t>(((b1 & 7) << 5) | ((b2 & 0xF8) >> 3));
  if (!known_type(t)) {
    OPENSSL_cleanse(raw->data(), raw->size());
    return std::nullopt;
  }
  raw_key seed{};
  std::copy(raw->begin() + 2, raw->end(), seed.begin());
  OPENSSL_cleanse(raw->data(), raw->size());
  keypair k(static_cast<key_type>(t), seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return k;
}

std::string keypair::seed() const {
  uint8_t t = static_cast<uint8_t>(type_);
  std::string body;
  body.push_back(static_cast<char>(seed_prefix | (t >> 5)));
  body.push_back(static_cast<char>((t & 31) << 3));
  body.append(reinterpret_cast<const char*>(seed_.data()), seed_.size());
  auto s = encode_checked(body);
  OPENSSL_cleanse(body.data(), body.size());
  return s;
}

std::string keypair::sign(std::string_view data) const {
  sodium_ready();
  raw_key pub{};
  secret_key sk;
  crypto_sign_seed_keypair(pub.data(), sk.bytes, seed_.data());
  std::string sig(crypto_sign_BYTES, '\0');
  if (crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                           reinterpret_cast<const unsigned char*>(data.data()), data.size(), sk.bytes) != 0)
    throw std::runtime_error("ed25519: signing failed");
  return sig;
}

}  // namespace platform::crypto
