#pragma once
// The byte encodings of NATS security: RFC 4648 base32 without padding (nkeys), base64url
// without padding (JWT parts and nonce signatures), and CRC16/XMODEM (the nkey checksum).
// Decoders return nullopt on any character outside the alphabet or a bad length; they
// never throw and never read past the input.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace platform::crypto {

std::string base32_encode(std::string_view raw);
std::optional<std::string> base32_decode(std::string_view text);

std::string base64url_encode(std::string_view raw);
// Accepts base64url without padding (what NATS clients send); with `also_standard`,
// falls back to standard base64 with or without padding (nats-server does, for `sig`).
std::optional<std::string> base64url_decode(std::string_view text, bool also_standard = false);

// CRC16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
uint16_t crc16(std::string_view data);

// Equality whose time depends only on the two lengths, never on where the contents
// differ (the loop runs over the longer input, the shorter padded with zeros): for
// passwords and tokens.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace platform::crypto
