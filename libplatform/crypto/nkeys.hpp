#pragma once
// NATS nkeys: Ed25519 keys written as base32 text with a type prefix and a CRC16.
//   public key: base32(prefix ‖ 32-byte key ‖ crc16-le), 56 characters, starting with
//               the type letter (U user, A account, O operator, N server, C cluster,
//               X curve);
//   seed:       base32(0x90|type>>5, (type&31)<<3 ‖ 32-byte seed ‖ crc16-le), 58
//               characters, starting with "S" and then the type letter.
// Ed25519 through libsodium (2.5x faster than OpenSSL 3.0's); random bytes from
// OpenSSL. The server only ever holds public keys (verify()); seeds are
// for the tooling and for signing tests. A keypair wipes its seed when destroyed.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace platform::crypto {

enum class key_type : uint8_t {
  account = 0,
  cluster = 2 << 3,
  server = 13 << 3,
  operator_ = 14 << 3,
  user = 20 << 3,
  curve = 23 << 3,
};

// 'U', 'A', 'O', 'N', 'C', 'X'
char type_letter(key_type t) noexcept;
std::string_view type_name(key_type t) noexcept;  // "user", "account", ...

using raw_key = std::array<uint8_t, 32>;

struct public_key {
  key_type type;
  raw_key key;
};

// Decodes a public nkey: right length, alphabet, CRC and a known prefix. With `want`,
// the type must match too.
std::optional<public_key> decode_public_key(std::string_view text, std::optional<key_type> want = std::nullopt);
bool is_public_key(std::string_view text, key_type want);
std::string encode_public_key(key_type t, const raw_key& key);

// Verifies an Ed25519 signature (64 raw bytes) over `data` with a public nkey of any
// type. False for a malformed key or signature, never throws.
bool verify(std::string_view public_nkey, std::string_view data, std::string_view signature);

// A fresh login nonce for INFO: 11 random bytes (OpenSSL's RAND_bytes) as base64url,
// 15 characters, as nats-server sends.
std::string make_nonce();

class keypair {
 public:
  // A new random key of type t (OpenSSL's RAND_bytes).
  static keypair generate(key_type t);
  // From seed text ("SU...", "SA...", ...); nullopt when malformed.
  static std::optional<keypair> from_seed(std::string_view seed);

  keypair(const keypair&);
  keypair& operator=(const keypair&);
  ~keypair();

  key_type type() const noexcept { return type_; }
  const std::string& public_key() const noexcept { return public_; }
  std::string seed() const;
  // 64-byte Ed25519 signature over data.
  std::string sign(std::string_view data) const;

 private:
  keypair(key_type t, const raw_key& seed);
  key_type type_;
  raw_key seed_;
  std::string public_;
};

}  // namespace platform::crypto
