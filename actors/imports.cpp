#include "actors/imports.hpp"

#include <nlohmann/json.hpp>

#include <random>

#include "actors/client_connection.hpp"
#include "actors/client_info.hpp"
#include "actors/internal_subscriber.hpp"
#include "libplatform/accounts/subject_transform.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

namespace {

using platform::accounts::subject_transform;
using platform::protocol::message_args;

// Trace headers that make a request sampled under `sampling: headers`.
bool has_trace_header(std::string_view headers) {
  for (auto key : {"Uber-Trace-Id:", "X-B3-Sampled:", "X-B3-TraceId:", "B3:", "Traceparent:", "traceparent:"})
    if (headers.find(key) != std::string_view::npos) return true;
  return false;
}

class stream_import final : public internal_subscriber {
 public:
  stream_import(account* importer, subject_transform t) : importer_(importer), transform_(std::move(t)) {}

  size_t deliver(router::context& ctx, const message_args& m) override {
    std::string subject = transform_.apply(m.subject);
    message_args out = m;
    out.subject = subject;
    bool was = ctx.clients_only;
    ctx.clients_only = true;
    size_t n = router::deliver_in(*importer_, ctx, out);
    ctx.clients_only = was;
    return n;
  }

 private:
  account* importer_;
  subject_transform transform_;
};

class service_import final : public internal_subscriber {
 public:
  service_import(account* importer, account* exporter, subject_transform t, platform::accounts::export_entry exp,
                 bool share, std::string server_name)
      : importer_(importer),
        exporter_(exporter),
        transform_(std::move(t)),
        export_(std::move(exp)),
        share_(share),
        server_name_(std::move(server_name)),
        anonymous_requestor_(std::make_shared<const std::string>(
            nlohmann::json{{"acc", importer->name()}}.dump())) {}

  size_t deliver(router::context& ctx, const message_args& m) override {
    std::string subject = transform_.apply(m.subject);
    message_args out = m;
    out.subject = subject;
    std::string reply;
    if (!m.reply.empty()) {
      auto now = std::chrono::steady_clock::now();
      pending_response r;
      r.requester = importer_;
      r.reply.assign(m.reply);
      r.type = export_.response;
      r.threshold = export_.response_threshold;
      if (export_.latency && sampled(m)) {
        latency_sample s;
        s.subject = &export_.latency->subject;
        // As nats-server: the requester is described in full only if the import shares
        // it (`share: true`); otherwise the report names its account alone.
        s.requestor_json = share_ ? client_info_json(ctx.from, *importer_, server_name_) : anonymous_requestor_;
        s.start = std::chrono::system_clock::now();
        s.forwarded = now;
        r.latency = std::move(s);
      }
      reply = exporter_->responses().add(std::move(r), now);
      if (reply.empty()) return 0;  // too many requests in flight: shed this one
      out.reply = reply;
    }
    size_t n = router::deliver_in(*exporter_, ctx, out);
    if (n == 0 && !reply.empty()) exporter_->responses().remove(reply);
    return n;
  }

 private:
  bool sampled(const message_args& m) const {
    int rate = export_.latency->sampling;
    if (rate == 0) return has_trace_header(m.headers());
    if (rate >= 100) return true;
    thread_local std::mt19937 rng{std::random_device{}()};
    return int(rng() % 100) < rate;
  }

  account* importer_;
  account* exporter_;
  subject_transform transform_;
  platform::accounts::export_entry export_;
  bool share_;
  std::string server_name_;
  std::shared_ptr<const std::string> anonymous_requestor_;
};

class response_router;

// Latency reports wait until the answers of the same read batch are flushed: a
// responder's batch may carry hundreds of answers, and the requesters should not wait
// for hundreds of reports to be built first. Per thread (each I/O loop drains its own
// in publish_deferred_reports(), called by the responder's connection after its flush).
struct deferred_report {
  response_router* router;
  client_connection* responder;  // alive: drained within the responder's own read
  latency_sample sample;
  std::chrono::steady_clock::time_point answered;
};
thread_local std::vector<deferred_report> deferred_reports;

class response_router final : public internal_subscriber {
 public:
  response_router(account* exporter, std::string server_name)
      : exporter_(exporter), server_name_(std::move(server_name)) {}

  size_t deliver(router::context& ctx, const message_args& m) override {
    auto route = exporter_->responses().take(m.subject, m.payload().empty());
    if (!route) return 0;
    message_args out = m;
    out.subject = route->reply;
    out.reply = {};  // a reply subject in the exporter's namespace means nothing to the requester
    size_t n = router::deliver_in(*route->requester, ctx, out);
    if (route->latency) {
      auto answered = std::chrono::steady_clock::now();
      if (ctx.from && ctx.loop) {
        deferred_reports.push_back({this, ctx.from, std::move(*route->latency), answered});
      } else {
        report_latency(ctx, *route->latency, answered);
      }
    }
    return n;
  }

 public:
  // nats-server's io.nats.server.metric.v1.service_latency report, built by hand: one
  // report per sampled request, so it must cost little more than the answer itself.
  // The two client descriptions are made once per connection (client_info_json).
  void report_latency(router::context& ctx, const latency_sample& s, std::chrono::steady_clock::time_point answered) {
    auto service = answered - s.forwarded;
    auto ns = std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(service).count());
    // Wall-clock now without another clock read: the request's start plus the service time.
    auto now = s.start + std::chrono::duration_cast<std::chrono::system_clock::duration>(service);
    auto responder = client_info_json(ctx.from, *exporter_, server_name_);
    std::string j;
    j.reserve(256 + s.requestor_json->size() + responder->size());
    j += R"({"type":"io.nats.server.metric.v1.service_latency","id":")";
    platform::append_random_token(j, 22);
    j += R"(","timestamp":")";
    platform::append_rfc3339(j, now);
    j += R"(","status":200,"requestor":)";
    j += *s.requestor_json;
    j += R"(,"responder":)";
    j += *responder;
    j += R"(,"start":")";
    platform::append_rfc3339(j, s.start);
    j += R"(","service":)";
    j += ns;
    j += R"(,"system":0,"total":)";  // one server: no hops between servers
    j += ns;
    j += '}';
    message_args m;
    m.subject = *s.subject;
    m.data = j;
    router::deliver_in(*exporter_, ctx, m);
  }

  account* exporter_;
  std::string server_name_;
};

}  // namespace

bool has_deferred_reports() noexcept { return !deferred_reports.empty(); }

void publish_deferred_reports(io::event_loop& loop) {
  // By index: a report could itself be answered through a response route and defer
  // another (bounded by the hop limit).
  for (size_t i = 0; i < deferred_reports.size(); ++i) {
    router::context ctx{deferred_reports[i].responder, &loop};
    deferred_report r = std::move(deferred_reports[i]);
    r.router->report_latency(ctx, r.sample, r.answered);
  }
  deferred_reports.clear();
}

account_map make_accounts(const platform::accounts::auth_config& cfg) {
  account_map out;
  for (auto& a : cfg.accounts) {
    auto acc = std::make_shared<account>(a.name);
    acc->limits.max_connections = a.max_connections;
    acc->limits.max_subscriptions = a.max_subscriptions;
    acc->limits.max_payload = a.max_payload;
    acc->is_system = a.name == cfg.system_account;
    out.emplace(a.name, std::move(acc));
  }
  for (auto name : {std::string(global_account_name), cfg.system_account}) {
    if (!out.count(name)) {
      auto acc = std::make_shared<account>(name);
      acc->is_system = name == cfg.system_account;
      out.emplace(name, std::move(acc));
    }
  }
  for (auto& u : cfg.users) {
    auto it = out.find(u.account);
    if (it != out.end()) it->second->users.push_back(u.name);
  }
  return out;
}

void wire_imports(const platform::accounts::auth_config& cfg, const account_map& accounts,
                  const std::string& server_name) {
  using kind = platform::accounts::import_entry::kind;
  for (auto& a : cfg.accounts) {
    account* importer = accounts.find(a.name)->second.get();
    for (auto& imp : a.imports) {
      auto exp_it = accounts.find(imp.account);
      const auto* exporter_cfg = cfg.find_account(imp.account);
      if (exp_it == accounts.end() || !exporter_cfg) continue;  // validate() rejected this already
      account* exporter = exp_it->second.get();
      if (imp.type == kind::stream) {
        std::optional<subject_transform> t;
        if (!imp.prefix.empty()) {
          t = subject_transform::prefix(imp.prefix);
        } else {
          t = subject_transform::create(imp.subject, imp.to.empty() ? imp.subject : imp.to);
        }
        if (!t) continue;
        exporter->keep(add_internal_subscription(*exporter, imp.subject,
                                                 std::make_shared<stream_import>(importer, std::move(*t))));
      } else {
        std::string local = imp.to.empty() ? imp.subject : imp.to;
        // Defined from the exporter's subject to the local one (where $N may appear), then
        // turned around: requests travel local -> exporter.
        auto forward = subject_transform::create(imp.subject, local);
        std::optional<subject_transform> t;
        if (forward) t = forward->reverse();
        const auto* exp = platform::accounts::find_export(*exporter_cfg, platform::accounts::export_entry::kind::service,
                                                          a.name, imp.subject);
        if (!t || !exp) continue;
        // Subscribe on the reversed mapping's source: the local subject with each $N
        // placeholder turned into '*' ("loc.$2.$1" listens on "loc.*.*").
        std::string listen = t->from();
        importer->keep(add_internal_subscription(
            *importer, listen, std::make_shared<service_import>(importer, exporter, std::move(*t), *exp, imp.share, server_name)));
      }
    }
  }
  for (auto& a : cfg.accounts) {
    bool exports_services = false;
    for (auto& e : a.exports) exports_services |= e.type == platform::accounts::export_entry::kind::service;
    if (!exports_services) continue;
    account* exporter = accounts.find(a.name)->second.get();
    exporter->keep(add_internal_subscription(*exporter, exporter->responses().reply_prefix() + ">",
                                             std::make_shared<response_router>(exporter, server_name)));
  }
}

}  // namespace actors
