// dialtone reqlog ...: the request log's $RLOG API. See reqlog_commands.hpp and
// services/reqlog/README.md.
#include "reqlog_commands.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_util.hpp"
#include "objectstore/client/obj_wire.hpp"

namespace dialtone_cli {

namespace {

using json = nlohmann::json;

// One request to the $RLOG API; dies with a clear line when there is no answer or the
// answer is an error.
json api(natsConnection* nc, const std::string& subject, const json& body) {
  std::string text = body.dump();
  natsMsg* m = nullptr;
  natsStatus s = natsConnection_Request(&m, nc, subject.c_str(), text.data(), int(text.size()), 5000);
  if (s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT)
    die("the server has no request log (no request_log block in its configuration)");
  if (s != NATS_OK) fail("request log API", s);
  json j = json::parse(std::string(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m))), nullptr, false);
  natsMsg_Destroy(m);
  if (j.is_discarded()) die("the request log answered with something that is not JSON");
  if (j.contains("error")) die(j["error"].value("description", std::string("request log error")));
  return j;
}

std::string decode(const json& body) {
  if (!body.is_object() || !body.contains("data")) return "";
  auto d = objectstore::client::detail::base64_decode(body["data"].get<std::string>());
  return d ? *d : std::string("(not base64)");
}

std::string who(const json& c) {
  if (!c.is_object() || c.empty()) return "-";
  std::string s = c.value("acc", std::string());
  if (c.contains("user")) s += "/" + c["user"].get<std::string>();
  if (c.contains("name")) s += " \"" + c["name"].get<std::string>() + "\"";
  if (c.contains("id")) s += " cid:" + std::to_string(c["id"].get<int64_t>());
  return s;
}

std::string latency(const json& r) {
  if (!r.contains("latency_ns")) return "-";
  int64_t ns = r["latency_ns"].get<int64_t>();
  char buf[32];
  if (ns < kNanosPerMilli) {
    std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(ns / 1000));
  } else if (ns < kNanosPerSecond) {
    std::snprintf(buf, sizeof buf, "%.1fms", double(ns) / double(kNanosPerMilli));
  } else {
    return format_duration(ns);
  }
  return buf;
}

std::string cell(const json& r, const char* key) {
  if (!r.contains(key) || !r[key].is_string()) return "-";
  return r[key].get<std::string>();
}

void print_record_line(const json& r) {
  std::cout << cell(r, "received") << "  " << cell(r, "status") << "  " << cell(r, "subject") << "  "
            << latency(r) << "  id " << cell(r, "id") << '\n'
            << std::flush;
}

std::string body_text(const json& b) {
  if (!b.is_object()) return "-";
  std::string data = decode(b);
  std::string out = printable(data.data(), int(data.size()));
  if (b.contains("headers") && !b["headers"].empty()) out = b["headers"].dump() + " " + out;
  return out;
}

}  // namespace

struct reqlog_commands::impl {
  const std::string& server;
  CLI::App* query = nullptr;
  CLI::App* show = nullptr;
  CLI::App* tail = nullptr;
  CLI::App* replay = nullptr;
  CLI::App* rules = nullptr;
  CLI::App* rules_ls = nullptr;
  CLI::App* rules_add = nullptr;
  CLI::App* rules_rm = nullptr;

  std::string subject, since, until, status, account, id, timeout = "2s", rule_account;
  std::vector<std::string> rule_subjects;
  size_t limit = 100;
  uint64_t count = 0;
  bool as_json = false;

  impl(CLI::App& app, const std::string& s) : server(s) {
    auto* cmd = app.add_subcommand("reqlog", "Query, follow and replay the server's request log");
    cmd->require_subcommand(1);
    query = cmd->add_subcommand("query", "List recorded requests (newest last)");
    query->add_option("--subject", subject, "Only requests on these subjects (wildcards allowed)");
    query->add_option("--since", since, "From this time: a duration back (1h, 30m) or RFC 3339");
    query->add_option("--until", until, "Up to this time: a duration back or RFC 3339");
    query->add_option("--status", status, "ok, error, timeout, no_responders (or pending, gap)");
    query->add_option("--account", account, "Another account's records (the auditor only)");
    query->add_option("--limit", limit, "At most this many records (default 100)");
    query->add_flag("--json", as_json, "One JSON record per line");
    show = cmd->add_subcommand("show", "Show one record: both identities, request and response");
    show->add_option("id", id, "Record id (from query)")->required();
    show->add_flag("--json", as_json, "The record as JSON");
    tail = cmd->add_subcommand("tail", "Print records as they are written, until Ctrl-C");
    tail->add_option("--subject", subject, "Only requests on these subjects (wildcards allowed)");
    tail->add_option("--count", count, "Exit after this many records");
    tail->add_flag("--json", as_json, "One JSON record per line");
    replay = cmd->add_subcommand("replay", "Send a recorded request again; show the old and the new response");
    replay->add_option("id", id, "Record id (from query)")->required();
    replay->add_option("--timeout", timeout, "How long to wait for the new response")->capture_default_str();
    rules = cmd->add_subcommand("rules", "List or change what is recorded (changes: system account or auditor)");
    rules->require_subcommand(1);
    rules_ls = rules->add_subcommand("ls", "List the rules in effect");
    rules_add = rules->add_subcommand("add", "Start recording subjects of an account");
    rules_add->add_option("account", rule_account, "Account")->required();
    rules_add->add_option("subjects", rule_subjects, "Subjects (wildcards allowed)")->required();
    rules_rm = rules->add_subcommand("rm", "Stop recording subjects of an account");
    rules_rm->add_option("account", rule_account, "Account")->required();
    rules_rm->add_option("subjects", rule_subjects, "Subjects")->required();
  }

  std::optional<int> run() {
    if (query->parsed()) return run_query();
    if (show->parsed()) return run_show();
    if (tail->parsed()) return run_tail();
    if (replay->parsed()) return run_replay();
    if (rules_ls->parsed()) return run_rules("list");
    if (rules_add->parsed()) return run_rules("add");
    if (rules_rm->parsed()) return run_rules("remove");
    return std::nullopt;
  }

  int run_query() {
    session s(server, "reqlog");
    json q = json::object();
    if (!subject.empty()) q["subject"] = subject;
    if (!since.empty()) q["since"] = since;
    if (!until.empty()) q["until"] = until;
    if (!status.empty()) q["status"] = status;
    if (!account.empty()) q["account"] = account;
    std::vector<json> got;
    while (got.size() < limit) {
      q["limit"] = std::min<size_t>(limit - got.size(), 1000);
      json r = api(s.nc, "$RLOG.API.QUERY", q);
      for (auto& x : r["records"]) got.push_back(x);
      if (!r.contains("cursor")) break;
      q["cursor"] = r["cursor"];
    }
    if (as_json) {
      for (auto& r : got) std::cout << r.dump() << '\n';
      return 0;
    }
    if (got.empty()) {
      std::cerr << "No records\n";
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (auto& r : got) {
      if (r.value("status", "") == "gap") {
        rows.push_back({cell(r, "id"), cell(r, "from"), "gap", std::to_string(r.value("dropped", 0)) + " dropped",
                        "-", "-", "until " + cell(r, "until")});
        continue;
      }
      rows.push_back({cell(r, "id"), cell(r, "received"), cell(r, "status"), cell(r, "subject"), latency(r),
                      who(r["requester"]), r.contains("responder") ? who(r["responder"]) : "-"});
    }
    print_table({"ID", "RECEIVED", "STATUS", "SUBJECT", "LATENCY", "REQUESTER", "RESPONDER"}, rows,
                {0, 0, 0, 40, 0, 40, 40});
    return 0;
  }

  int run_show() {
    session s(server, "reqlog");
    json r = api(s.nc, "$RLOG.API.GET." + id, json::object());
    if (as_json) {
      std::cout << r.dump(2) << '\n';
      return 0;
    }
    std::vector<std::pair<std::string, std::string>> f = {
        {"Id", cell(r, "id")},
        {"Account", cell(r, "account")},
        {"Subject", cell(r, "subject")},
        {"Status", cell(r, "status")},
        {"Received", cell(r, "received")},
        {"Responded", cell(r, "responded")},
        {"Latency", latency(r)},
        {"Requester", who(r.value("requester", json::object()))},
        {"Responder", who(r.value("responder", json::object()))},
        {"Request", body_text(r.value("request", json::object()))},
        {"Response", body_text(r.value("response", json::object()))},
    };
    if (r.contains("note")) f.emplace_back("Note", r["note"].get<std::string>());
    print_fields(f);
    return 0;
  }

  int run_tail() {
    session s(server, "reqlog");
    std::string subj = "$RLOG.EVENTS." + (subject.empty() ? std::string(">") : subject);
    natsSubscription* sub = nullptr;
    if (natsStatus st = natsConnection_SubscribeSync(&sub, s.nc, subj.c_str()); st != NATS_OK)
      fail("cannot subscribe to " + subj, st);
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    std::cerr << "Following the request log on " << subj << " (Ctrl-C to stop)\n";
    uint64_t n = 0;
    while (!stop_requested && !connection_closed && (count == 0 || n < count)) {
      natsMsg* m = nullptr;
      natsStatus st = natsSubscription_NextMsg(&m, sub, 200);
      if (st == NATS_TIMEOUT) continue;
      if (st != NATS_OK) fail("request log feed", st);
      std::string text(natsMsg_GetData(m), size_t(natsMsg_GetDataLength(m)));
      natsMsg_Destroy(m);
      json r = json::parse(text, nullptr, false);
      if (r.is_discarded()) continue;
      if (as_json) std::cout << r.dump() << '\n' << std::flush;
      else print_record_line(r);
      ++n;
    }
    natsSubscription_Destroy(sub);
    return 0;
  }

  int run_replay() {
    int64_t wait = duration_or_die(timeout, "timeout");
    session s(server, "reqlog");
    json r = api(s.nc, "$RLOG.API.GET." + id, json::object());
    if (!r.contains("subject")) die("record " + id + " is not a request (a gap record?)");
    std::string subj = r["subject"];
    json req = r.value("request", json::object());
    std::string payload = decode(req);
    natsMsg* out = nullptr;
    if (natsMsg_Create(&out, subj.c_str(), nullptr, payload.data(), int(payload.size())) != NATS_OK)
      die("cannot build the request");
    if (req.contains("headers"))
      for (auto& [k, vs] : req["headers"].items())
        for (auto& v : vs) natsMsgHeader_Add(out, k.c_str(), v.get<std::string>().c_str());
    natsMsg* reply = nullptr;
    natsStatus st = natsConnection_RequestMsg(&reply, s.nc, out, wait / kNanosPerMilli);
    natsMsg_Destroy(out);
    std::string now_text;
    std::string now_status;
    if (st == NATS_OK) {
      now_text = printable(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
      now_status = "ok";
      const char* err = nullptr;
      if (natsMsgHeader_Get(reply, "Nats-Service-Error", &err) == NATS_OK) now_status = "error";
      natsMsg_Destroy(reply);
    } else if (st == NATS_NO_RESPONDERS) {
      now_status = "no_responders";
    } else if (st == NATS_TIMEOUT) {
      now_status = "timeout";
    } else {
      fail("replay of " + id, st);
    }
    std::cout << "Replayed " << cell(r, "id") << " on " << subj << " (" << payload.size() << " bytes)\n";
    print_table({"", "RECORDED", "NOW"},
                {{"status", cell(r, "status"), now_status},
                 {"response", body_text(r.value("response", json::object())), now_text.empty() ? "-" : now_text}},
                {0, 60, 60});
    return 0;
  }

  int run_rules(const char* op) {
    session s(server, "reqlog");
    json q = {{"op", op}};
    if (std::string(op) != "list") {
      q["account"] = rule_account;
      q["subjects"] = rule_subjects;
    }
    json r = api(s.nc, "$RLOG.API.RULES", q);
    std::vector<std::vector<std::string>> rows;
    for (auto& x : r["rules"]) {
      std::vector<std::string> subs;
      for (auto& v : x["subjects"]) subs.push_back(v.get<std::string>());
      rows.push_back({x["account"].get<std::string>(), join(subs, " ")});
    }
    if (rows.empty()) std::cerr << "Nothing is recorded\n";
    else print_table({"ACCOUNT", "SUBJECTS"}, rows);
    return 0;
  }
};

reqlog_commands::reqlog_commands(CLI::App& app, const std::string& server)
    : impl_(std::make_unique<impl>(app, server)) {}
reqlog_commands::~reqlog_commands() = default;

bool reqlog_commands::is_command(const std::string& word) { return word == "reqlog"; }

std::string reqlog_commands::check_subcommand(const std::string& command, const std::string& word) {
  static const std::vector<std::string> words = {"query", "show", "tail", "replay", "rules"};
  if (std::find(words.begin(), words.end(), word) != words.end()) return "";
  return "unknown " + command + " command \"" + word + "\" (want " + join(words, ", ") + ")";
}

std::optional<int> reqlog_commands::run() { return impl_->run(); }

}  // namespace dialtone_cli
