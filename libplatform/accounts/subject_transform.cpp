// Semantics follow nats-server's server/subject_transform.go for the subset imports use:
// `$N` and `{{wildcard(N)}}` name the N-th '*' of the source (1-based), a '*' in the
// destination takes the next wildcard in order (nats-server's transformTokenize), and
// '>' must end both subjects or neither. The other mapping functions (partition, split,
// slice, left, right, random) belong to account `mappings`, which are not supported yet.
#include "libplatform/accounts/subject_transform.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "libplatform/subject.hpp"

namespace platform::accounts {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A whole-string decimal number >= 0, or -1.
int parse_index(std::string_view s) {
  int n = -1;
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc{} && end == s.data() + s.size() ? n : -1;
}

// What a destination token asks for.
struct token_meaning {
  enum kind { literal, wildcard, bad } type = literal;
  int number = 0;     // wildcard: 1-based
  std::string error;  // bad
};

// "{{ name(args) }}": nats-server's mustache mapping functions. Only wildcard(N) maps
// subjects for imports; anything else is reported.
token_meaning mustache(std::string_view token) {
  token_meaning m;
  m.type = token_meaning::bad;
  std::string_view body = trim(token.substr(2, token.size() - 4));
  size_t open = body.find('(');
  if (open == std::string_view::npos || body.back() != ')') {
    m.error = "mapping function " + quoted(token) + " is not of the form {{name(arguments)}}";
    return m;
  }
  std::string name(trim(body.substr(0, open)));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view args = trim(body.substr(open + 1, body.size() - open - 2));
  if (name != "wildcard") {
    static constexpr std::string_view known[] = {"partition", "splitfromleft", "splitfromright", "slicefromleft",
                                                 "slicefromright", "split", "left", "right", "random"};
    bool is_known = std::find(std::begin(known), std::end(known), name) != std::end(known);
    m.error = "mapping function " + quoted(token) +
              (is_known ? " is not supported here; use $N or {{wildcard(N)}}" : " is unknown; use $N or {{wildcard(N)}}");
    return m;
  }
  int n = parse_index(args);
  if (n < 0) {
    m.error = quoted(token) + " needs exactly one wildcard number, e.g. {{wildcard(1)}}";
    return m;
  }
  m.type = token_meaning::wildcard;
  m.number = n;
  return m;
}

token_meaning meaning_of(std::string_view token, int& positional) {
  token_meaning m;
  if (token == "*") {
    m.type = token_meaning::wildcard;
    m.number = ++positional;
  } else if (token.size() > 1 && token[0] == '$' && parse_index(token.substr(1)) >= 0) {
    // "$foo" stays a literal, as in nats-server: other features use '$' tokens.
    m.type = token_meaning::wildcard;
    m.number = parse_index(token.substr(1));
  } else if (token.size() > 4 && token.substr(0, 2) == "{{" && token.substr(token.size() - 2) == "}}") {
    m = mustache(token);
  } else if (std::any_of(token.begin(), token.end(), is_blank)) {
    m.type = token_meaning::bad;
  }
  return m;
}

}  // namespace

std::optional<subject_transform> subject_transform::create(std::string_view from, std::string_view to,
                                                           std::string* error) {
  auto fail = [&](std::string why) -> std::optional<subject_transform> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  if (!subject::valid_subscription(from)) return fail("the source " + quoted(from) + " is not a valid subject");

  subject_transform t;
  t.from_ = std::string(from);
  t.to_ = std::string(to);
  std::vector<std::string_view> tokens;
  subject::tokenize(from, tokens);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == "*") t.wildcard_positions_.push_back(static_cast<int>(i));
    if (tokens[i] == ">") t.source_has_rest_ = true;
  }

  std::string bad_destination = "the destination " + quoted(to) + " is not a valid subject";
  if (to.empty()) return fail(bad_destination);
  subject::tokenize(to, tokens);
  std::vector<bool> used(t.wildcard_positions_.size(), false);
  int positional = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view token = tokens[i];
    bool last = i + 1 == tokens.size();
    if (token.empty()) return fail(bad_destination);
    if (token == ">") {
      if (!last) return fail(bad_destination);
      if (!t.source_has_rest_)
        return fail("the destination " + quoted(to) + " ends in '>' but the source " + quoted(from) + " does not");
      t.parts_.push_back({part::rest, {}, 0});
      continue;
    }
    token_meaning m = meaning_of(token, positional);
    if (m.type == token_meaning::bad) return fail(m.error.empty() ? bad_destination : m.error);
    if (m.type == token_meaning::literal) {
      t.parts_.push_back({part::literal, std::string(token), 0});
      continue;
    }
    int count = static_cast<int>(t.wildcard_positions_.size());
    if (m.number < 1 || m.number > count)
      return fail("the destination token " + quoted(token) + " refers to wildcard " + std::to_string(m.number) +
                  ", but the source " + quoted(from) + " has " +
                  (count == 0 ? std::string("no wildcards") : "only " + std::to_string(count) + (count == 1 ? " wildcard" : " wildcards")));
    used[m.number - 1] = true;
    t.parts_.push_back({part::wildcard, {}, m.number - 1});
  }
  if (t.source_has_rest_ && (t.parts_.empty() || t.parts_.back().type != part::rest))
    return fail("the source " + quoted(from) + " ends in '>' but the destination " + quoted(to) + " does not");
  t.uses_every_wildcard_ = std::all_of(used.begin(), used.end(), [](bool u) { return u; });
  // Identity: the destination repeats the source token by token, each wildcard in its
  // own place (a subject matching the source then has the source's shape).
  subject::tokenize(from, tokens);
  t.identity_ = t.parts_.size() == tokens.size();
  for (size_t i = 0; t.identity_ && i < tokens.size(); ++i) {
    const part& p = t.parts_[i];
    if (p.type == part::literal) t.identity_ = tokens[i] != "*" && tokens[i] != ">" && p.text == tokens[i];
    else if (p.type == part::wildcard) t.identity_ = t.wildcard_positions_[size_t(p.index)] == int(i);
    else t.identity_ = tokens[i] == ">";
  }
  return t;
}

subject_transform subject_transform::prefix(std::string_view prefix) {
  // nats-server adds the separator only when the prefix does not already end in one.
  if (!prefix.empty() && prefix.back() == '.') prefix.remove_suffix(1);
  subject_transform t;
  t.prefix_ = std::string(prefix) + ".";
  t.from_ = ">";
  t.to_ = t.prefix_ + ">";
  t.source_has_rest_ = true;
  return t;
}

std::optional<subject_transform> subject_transform::reverse() const {
  if (!prefix_.empty()) return create(prefix_ + ">", ">");
  if (!uses_every_wildcard_) return std::nullopt;
  // The new source is the destination with its placeholders turned into '*'; the new
  // destination is the old source, each '*' naming the new wildcard that carries it.
  std::string from, to;
  std::vector<int> carrier(wildcard_positions_.size(), 0);  // old wildcard -> new wildcard (1-based)
  int placed = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const part& p = parts_[i];
    if (i) from += '.';
    if (p.type == part::literal) from += p.text;
    else if (p.type == part::rest) from += '>';
    else {
      from += '*';
      ++placed;
      if (carrier[p.index] == 0) carrier[p.index] = placed;
    }
  }
  std::vector<std::string_view> tokens;
  subject::tokenize(from_, tokens);
  int wildcard = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) to += '.';
    if (tokens[i] == "*") to += "$" + std::to_string(carrier[wildcard++]);
    else to += tokens[i];
  }
  return create(from, to);
}

bool subject_transform::matches(std::string_view subject) const { return subject::matches(from_, subject); }

std::string subject_transform::apply(std::string_view subject) const {
  if (!prefix_.empty()) return prefix_ + std::string(subject);
  subject::token_list tokens(subject);
  std::string out;
  out.reserve(to_.size() + subject.size());
  for (size_t i = 0; i < parts_.size(); ++i) {
    const part& p = parts_[i];
    if (i > 0) out += '.';
    switch (p.type) {
      case part::literal:
        out += p.text;
        break;
      case part::wildcard:
        if (size_t at = wildcard_positions_[p.index]; at < tokens.size()) out += tokens[at];
        break;
      case part::rest: {
        // The source's '>' is its last token; everything from there on carries over.
        size_t first = std::count(from_.begin(), from_.end(), '.');
        for (size_t k = first; k < tokens.size(); ++k) {
          if (k > first) out += '.';
          out += tokens[k];
        }
        break;
      }
    }
  }
  return out;
}

}  // namespace platform::accounts
