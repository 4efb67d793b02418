// nkeys, Ed25519 and JWTs: known vectors (RFC 8032, and keys, signatures and tokens made
// by the official @nats-io/nkeys and @nats-io/jwt), tampering, and a bounded mutation
// loop over every decoder (fuzzing without libFuzzer: each mutant must be refused or
// decoded, never crash; the sanitizer builds run it too).
#include <catch2/catch.hpp>
#include <random>

#include "libplatform/crypto/encoding.hpp"
#include "libplatform/crypto/jwt.hpp"
#include "libplatform/crypto/nkeys.hpp"

using namespace platform::crypto;

namespace {

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return out;
}

// Made by @nats-io/nkeys 2.0.3: seed, public key, and the base64url signature of the
// nonce "PXoWU7zWAMt75FY".
struct vector {
  const char* seed;
  const char* pub;
  const char* sig;
  key_type type;
};
const vector vectors[] = {
    {"SUAM2IYWNDFD26CVDUL3JT6WF2LEUR3Z3XRAHCHPGSMPNULVWGIAWXMCO4", "UD2AGYTCZOVHVIRWMSXUNHSGIMNAWYQT4ZU6QS3QKAXY6KRCCWYT3YTY",
     "m8Z5rquA90yvIHaTujH_5ESpimZwSXRT8kJMiaMwATqiVh34q6YIJSGfMkrZcqJ4p1LJY7Xl2cfUMefabeMKAQ", key_type::user},
    {"SAAOHOSDTKJ7GBTP6ATHHC65T4NH4QHN4DWLMLOBQC3BQOXPH5PR36AGLM", "AC5IMTNODJKQR6JQL2B4BPFN3FSKTAAD6RHVEDY3AAU3LN2D3DERMSBG",
     "485TgIfe88BPiN6H-dtntwmCSAIoQL9lWN8XWCW3jX_qPVvLDu5xhdKDFSiKAQrmb-qgcYFxTn-omhuOIfGvCQ", key_type::account},
    {"SOAJISTEDCSYCCGPGWZBKA67QO3RM3SRXOYUKZXQXGKWACEPNOA3KXXAXI", "OAQR7T4EZJ2MBT5M5ITLGMG5ABSUQ5THCEYC2SUZZBPFMTS5MOZTDUXU",
     "jS01YqebgBhUNiORBBHia-uD-MZj0UqSYtJCqumL03PQOIEzPHPwf0VGCjDmiKmdvU7ahyUdx4zu62I9Q7fPDA", key_type::operator_},
};

// A user JWT made by @nats-io/jwt 0.0.11 (encodeUser "alice", issued by the account above,
// pub allow foo.>, expiring in 2100).
const char* alice_jwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ."
    "eyJleHAiOjQxMDI0NDQ4MDAsImF1ZCI6Ik5BVFMiLCJuYW1lIjoiYWxpY2UiLCJzdWIiOiJVRDJBR1lUQ1pPVkhWSVJXTVNYVU5IU0dJTU5BV1lRVDRa"
    "VTZRUzNRS0FYWTZLUkNDV1lUM1lUWSIsIm5hdHMiOnsiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJzdWJzIjotMSwicHViIjp7ImFsbG93IjpbImZvby4-"
    "Il19LCJ0eXBlIjoidXNlciIsInZlcnNpb24iOjJ9LCJpc3MiOiJBQzVJTVROT0RKS1FSNkpRTDJCNEJQRk4zRlNLVEFBRDZSSFZFRFkzQUFVM0xOMkQz"
    "REVSTVNCRyIsImlhdCI6MTc5NjQzNjIxOSwianRpIjoib1AyNFdJNjdBeWNaZUQ0UG1EbDkwRDJ0VjJuS0xwR3dBVXRyUDhzMk9rcGt1eFNOcjJPVDUy"
    "NEFiYnl2bkpDSC9ieUd4aXYzWnlYc1dkbkZhc2s3NlE9PSJ9."
    "U5__fnWOe16SJ63nKeFw4LFuO3wZOrhJpe5qT4ZPEz1LewXgaH4Z__Q9bXldzmjMDe3fsyYc0WYRam3PwRTTCg";

}  // namespace

TEST_CASE("base32 and base64url round trip and refuse foreign characters", "[crypto]") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    CHECK(base32_decode(base32_encode(s)) == s);
    CHECK(base64url_decode(base64url_encode(s)) == s);
  }
  CHECK(base32_encode("foobar") == "MZXW6YTBOI");  // RFC 4648 §10, without padding
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base32_decode("MZXW6YTBO1"));  // '1' is not in the alphabet
  CHECK_FALSE(base64url_decode("ab+/"));
  CHECK(base64url_decode("ab+/", true) == base64url_decode("ab-_"));
  CHECK(base64url_decode("Zm9vYg==", true) == "foob");
  CHECK_FALSE(base64url_decode("A"));  // one character cannot encode a byte
}

TEST_CASE("crc16 is XMODEM", "[crypto]") {
  CHECK(crc16("123456789") == 0x31C3);
  CHECK(crc16("") == 0);
}

TEST_CASE("Ed25519 matches RFC 8032 test vector 1", "[crypto]") {
  // Build the seed text the way nkeys does, from the RFC's secret key.
  std::string body = "\x90";  // 'S' prefix | user >> 5 (user = 20 << 3 = 160 -> 5)
  body[0] = static_cast<char>(0x90 | (160 >> 5));
  body.push_back(static_cast<char>((160 & 31) << 3));
  body += unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  uint16_t c = crc16(body);
  body.push_back(static_cast<char>(c & 0xFF));
  body.push_back(static_cast<char>(c >> 8));
  auto kp = keypair::from_seed(base32_encode(body));
  REQUIRE(kp);
  auto pub = decode_public_key(kp->public_key(), key_type::user);
  REQUIRE(pub);
  CHECK(std::string(pub->key.begin(), pub->key.end()) ==
        unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  auto sig = kp->sign("");
  CHECK(sig == unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
                     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"));
  CHECK(verify(kp->public_key(), "", sig));
}

TEST_CASE("nkeys from the official library decode, sign and verify alike", "[crypto]") {
  for (auto& v : vectors) {
    auto kp = keypair::from_seed(v.seed);
    REQUIRE(kp);
    CHECK(kp->type() == v.type);
    CHECK(kp->public_key() == v.pub);
    CHECK(kp->seed() == v.seed);
    CHECK(kp->public_key()[0] == type_letter(v.type));
    auto sig = base64url_decode(v.sig);
    REQUIRE(sig);
    CHECK(kp->sign("PXoWU7zWAMt75FY") == *sig);  // Ed25519 is deterministic
    CHECK(verify(v.pub, "PXoWU7zWAMt75FY", *sig));
    CHECK_FALSE(verify(v.pub, "PXoWU7zWAMt75FZ", *sig));
    CHECK(is_public_key(v.pub, v.type));
  }
  CHECK_FALSE(is_public_key(vectors[0].pub, key_type::account));
}

TEST_CASE("tampered and malformed nkeys are refused", "[crypto]") {
  std::string pub = vectors[0].pub;
  CHECK_FALSE(decode_public_key(pub.substr(0, 55)));
  std::string flipped = pub;
  flipped[20] = flipped[20] == 'A' ? 'B' : 'A';  // breaks the CRC
  CHECK_FALSE(decode_public_key(flipped));
  std::string lower = pub;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  CHECK_FALSE(decode_public_key(lower));              // outside the alphabet
  CHECK_FALSE(decode_public_key(std::string(56, 'Z')));  // no such prefix
  CHECK_FALSE(keypair::from_seed(pub));             // a public key is not a seed
  CHECK_FALSE(decode_public_key(vectors[0].seed));  // nor a seed a public key
  std::string seed = vectors[0].seed;
  seed[30] = seed[30] == 'Q' ? 'R' : 'Q';
  CHECK_FALSE(keypair::from_seed(seed));
  auto sig = *base64url_decode(vectors[0].sig);
  CHECK_FALSE(verify(pub, "PXoWU7zWAMt75FY", sig.substr(0, 63)));
  CHECK_FALSE(verify(vectors[1].pub, "PXoWU7zWAMt75FY", sig));  // another key
}

TEST_CASE("generated keys have the right type and sign", "[crypto]") {
  for (auto t : {key_type::user, key_type::account, key_type::operator_, key_type::server}) {
    auto k = keypair::generate(t);
    CHECK(k.public_key().size() == 56);
    CHECK(k.seed().size() == 58);
    CHECK(k.seed()[0] == 'S');
    CHECK(k.seed()[1] == type_letter(t));
    CHECK(is_public_key(k.public_key(), t));
    CHECK(verify(k.public_key(), "x", k.sign("x")));
    CHECK(keypair::from_seed(k.seed())->public_key() == k.public_key());
  }
  CHECK(keypair::generate(key_type::user).public_key() != keypair::generate(key_type::user).public_key());
}

TEST_CASE("a JWT made by @nats-io/jwt verifies", "[crypto][jwt]") {
  std::string why;
  auto t = decode_jwt(alice_jwt, &why);
  REQUIRE(t);
  CHECK(t->issuer == vectors[1].pub);
  CHECK(t->subject == vectors[0].pub);
  CHECK(t->type == "user");
  CHECK(t->name == "alice");
  CHECK(t->expires == 4102444800);
  CHECK(t->nats()["pub"]["allow"][0] == "foo.>");
  CHECK(check_times(*t, unix_now()));
  CHECK_FALSE(check_times(*t, 4102444800, &why));
  CHECK(why == "JWT expired");
}

TEST_CASE("tampered JWTs are refused with a reason", "[crypto][jwt]") {
  std::string tok = alice_jwt;
  std::string why;
  auto d1 = tok.find('.'), d2 = tok.rfind('.');
  // Claims changed: the signature no longer covers them.
  auto claims = nlohmann::json::parse(*base64url_decode(tok.substr(d1 + 1, d2 - d1 - 1)));
  claims["nats"]["pub"]["allow"] = {">"};
  std::string forged = tok.substr(0, d1) + "." + base64url_encode(claims.dump()) + tok.substr(d2);
  CHECK_FALSE(decode_jwt(forged, &why));
  CHECK(why == "JWT signature does not verify");
  // Re-signed by someone else but still naming the account as issuer.
  auto other = keypair::generate(key_type::account);
  std::string input = tok.substr(0, d1) + "." + base64url_encode(claims.dump());
  CHECK_FALSE(decode_jwt(input + "." + base64url_encode(other.sign(input)), &why));
  CHECK_FALSE(decode_jwt(tok.substr(0, d2), &why));
  CHECK(why == "JWT must have three parts");
  CHECK_FALSE(decode_jwt(tok + ".x", &why));
  CHECK_FALSE(decode_jwt("", &why));
  CHECK_FALSE(decode_jwt(base64url_encode(R"({"typ":"JWT","alg":"HS256"})") + tok.substr(d1), &why));
  CHECK(why == "JWT algorithm is not ed25519-nkey");
  CHECK_FALSE(decode_jwt(std::string(max_jwt_size + 1, 'a'), &why));
}

TEST_CASE("encode_jwt tokens verify and carry iss iat and jti", "[crypto][jwt]") {
  auto acc = *keypair::from_seed(vectors[1].seed);
  nlohmann::json c = {{"sub", vectors[0].pub}, {"name", "bob"}, {"nats", {{"type", "user"}, {"version", 2}}}};
  auto tok = encode_jwt(c, acc);
  auto t = decode_jwt(tok);
  REQUIRE(t);
  CHECK(t->issuer == acc.public_key());
  CHECK(t->issued_at > 1700000000);
  CHECK(t->claims["jti"].get<std::string>().size() == 52);  // base32 of a SHA-256
  c["nbf"] = unix_now() + 3600;
  std::string why;
  CHECK_FALSE(check_times(*decode_jwt(encode_jwt(c, acc)), unix_now(), &why));
  CHECK(why == "JWT not yet valid");
}

TEST_CASE("creds files round trip and match the official layout", "[crypto][jwt]") {
  auto text = format_creds(alice_jwt, vectors[0].seed);
  CHECK(text.rfind("-----BEGIN NATS USER JWT-----\n", 0) == 0);
  auto c = parse_creds(text);
  REQUIRE(c);
  CHECK(c->jwt == alice_jwt);
  CHECK(c->seed == vectors[0].seed);
  CHECK_FALSE(parse_creds("no blocks here"));
}

TEST_CASE("decoders survive a bounded mutation loop", "[crypto][fuzz]") {
  std::mt19937_64 rng(20261205);
  const std::string seeds[] = {alice_jwt, vectors[0].pub, vectors[0].seed, vectors[1].sig,
                               format_creds(alice_jwt, vectors[0].seed)};
  const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/{}\":,\n\0\xff";
  int decoded = 0, iterations = 60000;
  for (int i = 0; i < iterations; ++i) {
    std::string s = seeds[rng() % std::size(seeds)];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[at] = alphabet[rng() % (sizeof(alphabet) - 1)]; break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        case 2: s.insert(at, 1, alphabet[rng() % (sizeof(alphabet) - 1)]); break;
        case 3: s.resize(at); break;
      }
    }
    // Signed and checksummed input cannot survive a real edit: whatever still decodes
    // must be the original text (an edit that changed nothing).
    if (decode_jwt(s)) CHECK(s == alice_jwt);
    if (decode_public_key(s)) CHECK(s == vectors[0].pub);
    if (keypair::from_seed(s)) CHECK(s == vectors[0].seed);
    if (base64url_decode(s, true)) ++decoded;
    if (auto c = parse_creds(s)) {
      if (decode_jwt(c->jwt)) CHECK(c->jwt == alice_jwt);
      (void)keypair::from_seed(c->seed);
    }
  }
  CHECK(decoded > 0);  // the loop did reach the decoders' success paths
}
