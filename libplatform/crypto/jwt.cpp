#include "libplatform/crypto/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>
#include <stdexcept>

#include "libplatform/crypto/encoding.hpp"

namespace platform::crypto {

namespace {

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

std::string sha256(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256");
  return std::string(reinterpret_cast<char*>(out), len);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

int64_t get_time(const nlohmann::json& c, const char* k) {
  auto it = c.find(k);
  if (it == c.end() || !it->is_number()) return 0;
  if (it->is_number_float()) return static_cast<int64_t>(it->get<double>());
  return it->get<int64_t>();
}

std::string get_string(const nlohmann::json& c, const char* k) {
  auto it = c.find(k);
  return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

const nlohmann::json& jwt::nats() const {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = claims.find("nats");
  return it != claims.end() && it->is_object() ? *it : empty;
}

std::optional<jwt> decode_jwt(std::string_view token, std::string* why) {
  auto bad = [&](std::string text) -> std::optional<jwt> {
    fail(why, std::move(text));
    return std::nullopt;
  };
  if (token.empty()) return bad("empty JWT");
  if (token.size() > max_jwt_size) return bad("JWT too large");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return bad("JWT must have three parts");
  auto h = base64url_decode(token.substr(0, d1));
  auto c = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto s = base64url_decode(token.substr(d2 + 1));
  if (!h || !c || !s) return bad("JWT is not base64url");
  jwt t;
  t.header = nlohmann::json::parse(*h, nullptr, false);
  if (t.header.is_discarded() || !t.header.is_object()) return bad("JWT header is not a JSON object");
  auto typ = get_string(t.header, "typ");
  auto alg = get_string(t.header, "alg");
  if (!iequals(typ, "JWT")) return bad("JWT header type is not JWT");
  if (!iequals(alg, "ed25519-nkey") && !iequals(alg, "ed25519")) return bad("JWT algorithm is not ed25519-nkey");
  t.claims = nlohmann::json::parse(*c, nullptr, false);
  if (t.claims.is_discarded() || !t.claims.is_object()) return bad("JWT claims are not a JSON object");
  t.issuer = get_string(t.claims, "iss");
  t.subject = get_string(t.claims, "sub");
  t.name = get_string(t.claims, "name");
  t.issued_at = get_time(t.claims, "iat");
  t.expires = get_time(t.claims, "exp");
  t.not_before = get_time(t.claims, "nbf");
  t.type = get_string(t.nats(), "type");
  if (!decode_public_key(t.issuer)) return bad("JWT issuer is not a public nkey");
  if (t.subject.empty()) return bad("JWT has no subject");
  if (!verify(t.issuer, token.substr(0, d2), *s)) return bad("JWT signature does not verify");
  return t;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool check_times(const jwt& t, int64_t now, std::string* why) {
  if (t.expires > 0 && now >= t.expires) return fail(why, "JWT expired");
  if (t.not_before > 0 && now < t.not_before) return fail(why, "JWT not yet valid");
  return true;
}

std::string encode_jwt(nlohmann::json claims, const keypair& signer) {
  claims["iss"] = signer.public_key();
  if (!claims.contains("iat")) claims["iat"] = unix_now();
  claims.erase("jti");
  claims["jti"] = base32_encode(sha256(claims.dump()));
  static const std::string header = base64url_encode(R"({"typ":"JWT","alg":"ed25519-nkey"})");
  std::string input = header + "." + base64url_encode(claims.dump());
  return input + "." + base64url_encode(signer.sign(input));
}

std::string format_creds(std::string_view user_jwt, std::string_view user_seed) {
  std::string out;
  out += "-----BEGIN NATS USER JWT-----\n";
  out += user_jwt;
  out += "\n------END NATS USER JWT------\n\n";
  out += "************************* IMPORTANT *************************\n";
  out += "NKEY Seed printed below can be used to sign and prove identity.\n";
  out += "NKEYs are sensitive and should be treated as secrets.\n\n";
  out += "-----BEGIN USER NKEY SEED-----\n";
  out += user_seed;
  out += "\n------END USER NKEY SEED------\n\n";
  out += "*************************************************************\n";
  return out;
}

std::optional<creds> parse_creds(std::string_view text) {
  // The first block between dashed lines is the JWT, the second the seed.
  std::vector<std::string> blocks;
  size_t pos = 0;
  while (blocks.size() < 2) {
    size_t b = text.find("-----BEGIN", pos);
    if (b == std::string_view::npos) break;
    size_t eol = text.find('\n', b);
    if (eol == std::string_view::npos) break;
    size_t e = text.find("------END", eol);
    if (e == std::string_view::npos) e = text.find("-----END", eol);
    if (e == std::string_view::npos) break;
    std::string body;
    for (char ch : text.substr(eol + 1, e - eol - 1))
      if (!std::isspace(static_cast<unsigned char>(ch))) body.push_back(ch);
    blocks.push_back(std::move(body));
    pos = text.find('\n', e);
    if (pos == std::string_view::npos) pos = text.size();
  }
  if (blocks.size() != 2) return std::nullopt;
  return creds{std::move(blocks[0]), std::move(blocks[1])};
}

}  // namespace platform::crypto
