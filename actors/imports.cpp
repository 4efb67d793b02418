#include "actors/imports.hpp"

#include <nlohmann/json.hpp>

#include "actors/client_connection.hpp"
#include "actors/client_info.hpp"
#include "actors/internal_subscriber.hpp"
#include "actors/io/event_loop.hpp"
#include "actors/request_tap.hpp"
#include "libplatform/accounts/subject_transform.hpp"
#include "libplatform/random_token.hpp"
#include "libplatform/time_format.hpp"

namespace actors {

platform::subscription_ptr add_internal_subscription(account& acc, std::string_view subject,
                                                     std::shared_ptr<internal_subscriber> owner) {
  auto sub = std::make_shared<platform::subscription>(subject, std::string_view(), "internal");
  sub->internal = true;
  sub->owner = std::move(owner);
  acc.subjects().insert(sub);
  return sub;
}

void wiring::remove() {
  for (auto& [acc, sub] : subs) {
    sub->closed.store(true);
    acc->subjects().remove(sub);
  }
  subs.clear();
  for (auto& c : clients) c->close();
  clients.clear();
}

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
  stream_import(const account_ptr& importer, subject_transform t)
      : internal_subscriber(kind::stream), importer_(importer), transform_(std::move(t)) {}

  size_t deliver(router::context& ctx, const platform::subscription_ptr&, const message_args& m) override {
    hop h(ctx);
    if (!h) return 0;
    account& importer = *importer_;
    message_args out = m;
    std::string mapped;
    if (!transform_.identity()) out.subject = mapped = transform_.apply(m.subject);
    bool was = ctx.clients_only;
    ctx.clients_only = true;
    size_t n = router::deliver_in(importer, ctx, out);
    ctx.clients_only = was;
    return n;
  }

 private:
  account_ptr importer_;
  subject_transform transform_;
};

class service_import final : public internal_subscriber {
 public:
  service_import(const account_ptr& importer, const account_ptr& exporter, subject_transform t,
                 platform::accounts::export_entry exp, bool share, std::string server_name)
      : internal_subscriber(kind::service),
        importer_(importer),
        exporter_(exporter),
        transform_(std::move(t)),
        export_(std::move(exp)),
        share_(share),
        server_name_(std::move(server_name)),
        anonymous_requestor_(std::make_shared<const std::string>(
            nlohmann::json{{"acc", importer->name()}}.dump())),
        report_subject_(std::make_shared<const std::string>(export_.latency ? export_.latency->subject : "")) {}

  size_t deliver(router::context& ctx, const platform::subscription_ptr&, const message_args& m) override {
    hop h(ctx);
    if (!h) return 0;
    account& importer = *importer_;
    account& exporter = *exporter_;
    message_args out = m;
    std::string mapped;
    if (!transform_.identity()) out.subject = mapped = transform_.apply(m.subject);
    reply_subject reply;
    if (!m.reply.empty()) {
      auto now = std::chrono::steady_clock::now();
      pending_response r;
      r.requester = importer_;
      r.reply.assign(m.reply);
      r.type = export_.response;
      r.threshold = export_.response_threshold;
      if (export_.latency && sampled(m)) {
        latency_sample s;
        s.subject = report_subject_;
        // As nats-server: the requester is described in full only if the import shares
        // it (`share: true`); otherwise the report names its account alone.
        s.requestor_json = share_ ? client_info_json(ctx.from ? ctx.from->as_client() : nullptr, importer, server_name_)
                                  : anonymous_requestor_;
        s.start = std::chrono::system_clock::now();
        s.forwarded = now;
        r.latency = std::move(s);
      }
      reply = exporter.responses().add(std::move(r), now);
      if (reply.empty()) return 0;  // too many requests in flight: shed this one
      out.reply = reply.view();
    }
    // The exporter's request recording sees the request as it arrives in its account
    // (with the importer's client as the requester).
    uint64_t recorded = 0;
    request_tap* tap = reply.empty() ? nullptr : exporter.tap.load(std::memory_order_acquire);
    if (tap) recorded = tap->request(exporter, ctx.from, out);
    size_t n = router::deliver_in(exporter, ctx, out);
    if (recorded) tap->delivered(recorded, n);
    if (n == 0 && !reply.empty()) exporter.responses().remove(reply.view());
    return n;
  }

 private:
  bool sampled(const message_args& m) const {
    int rate = export_.latency->sampling;
    if (rate == 0) return has_trace_header(m.headers());
    if (rate >= 100) return true;
    return platform::random_percent(rate);
  }

  account_ptr importer_;
  account_ptr exporter_;
  subject_transform transform_;
  platform::accounts::export_entry export_;
  bool share_;
  std::string server_name_;
  std::shared_ptr<const std::string> anonymous_requestor_;
  std::shared_ptr<const std::string> report_subject_;
};

// nats-server's io.nats.server.metric.v1.service_latency report, built by hand: one
// report per sampled request, so it must cost little more than the answer itself.
// Built and published by the exporter's latency reporter, on its own actor; the two
// client descriptions were made once per connection (client_info_json).
std::string latency_report(const latency_sample& s, const std::string& responder,
                           std::chrono::steady_clock::time_point answered) {
  auto service = answered - s.forwarded;
  auto ns = std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(service).count());
  // Wall-clock now without another clock read: the request's start plus the service time.
  auto now = s.start + std::chrono::duration_cast<std::chrono::system_clock::duration>(service);
  std::string j;
  j.reserve(256 + s.requestor_json->size() + responder.size());
  j += R"({"type":"io.nats.server.metric.v1.service_latency","id":")";
  platform::append_random_token(j, 22);
  j += R"(","timestamp":")";
  platform::append_rfc3339(j, now);
  j += R"(","status":200,"requestor":)";
  j += *s.requestor_json;
  j += R"(,"responder":)";
  j += responder;
  j += R"(,"start":")";
  platform::append_rfc3339(j, s.start);
  j += R"(","service":)";
  j += ns;
  j += R"(,"system":0,"total":)";  // one server: no hops between servers
  j += ns;
  j += '}';
  return j;
}

class response_router final : public internal_subscriber {
 public:
  response_router(const account_ptr& exporter, std::string server_name, std::vector<internal_client_ptr> reporters)
      : internal_subscriber(kind::service),
        exporter_(exporter),
        server_name_(std::move(server_name)),
        reporters_(std::move(reporters)) {}

  size_t deliver(router::context& ctx, const platform::subscription_ptr&, const message_args& m) override {
    hop h(ctx);
    if (!h) return 0;
    account& exporter = *exporter_;
    auto route = exporter.responses().take(m.subject, m.payload().empty());
    if (!route) return 0;
    auto requester = route->requester.lock();
    size_t n = 0;
    if (requester) {
      message_args out = m;
      out.subject = route->reply;
      out.reply = {};  // a reply subject in the exporter's namespace means nothing to the requester
      if (auto* tap = requester->tap.load(std::memory_order_acquire)) tap->maybe_response(*requester, ctx.from, out);
      n = router::deliver_in(*requester, ctx, out);
    }
    if (route->latency && !reporters_.empty()) {
      // The answer is on its way; the report is built after this read batch is
      // flushed, by this loop's reporter (answers first, then reports).
      auto answered = std::chrono::steady_clock::now();
      auto responder = client_info_json(ctx.from ? ctx.from->as_client() : nullptr, exporter, server_name_);
      auto& reporter = reporters_[ctx.loop ? size_t(ctx.loop->index()) % reporters_.size() : 0];
      reporter->post(&ctx, [sample = std::move(*route->latency), responder = std::move(responder),
                             answered](internal_client& c) {
        c.publish(*sample.subject, {}, {}, latency_report(sample, *responder, answered));
      });
    }
    return n;
  }

 private:
  account_ptr exporter_;
  std::string server_name_;
  std::vector<internal_client_ptr> reporters_;  // one per I/O loop
};

}  // namespace

wiring wire_imports(const platform::accounts::auth_config& cfg, const platform::accounts::account_entry& a,
                    const account_map& accounts, const std::string& server_name) {
  using kind = platform::accounts::import_entry::kind;
  wiring w;
  auto self = accounts.find(a.name);
  if (self == accounts.end()) return w;
  const account_ptr& importer = self->second;
  for (auto& imp : a.imports) {
    auto exp_it = accounts.find(imp.account);
    const auto* exporter_cfg = cfg.find_account(imp.account);
    if (exp_it == accounts.end() || !exporter_cfg) continue;  // validate() rejected this already
    const account_ptr& exporter = exp_it->second;
    if (imp.type == kind::stream) {
      std::optional<subject_transform> t;
      if (!imp.prefix.empty()) {
        t = subject_transform::prefix(imp.prefix);
      } else {
        t = subject_transform::create(imp.subject, imp.to.empty() ? imp.subject : imp.to);
      }
      if (!t) continue;
      w.subs.emplace_back(exporter, add_internal_subscription(*exporter, imp.subject,
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
      w.subs.emplace_back(importer, add_internal_subscription(*importer, listen,
                                                              std::make_shared<service_import>(
                                                                  importer, exporter, std::move(*t), *exp, imp.share,
                                                                  server_name)));
    }
  }
  return w;
}

wiring wire_exports(const platform::accounts::account_entry& a, const account_ptr& exporter,
                    const std::string& server_name, const loop_owners& owners) {
  wiring w;
  bool services = false, latency = false;
  for (auto& e : a.exports) {
    if (e.type != platform::accounts::export_entry::kind::service) continue;
    services = true;
    latency |= e.latency.has_value();
  }
  if (!services) return w;
  std::vector<internal_client_ptr> reporters;
  for (size_t i = 0; latency && owners.start && i < owners.count; ++i) {
    auto r = std::make_shared<internal_client>(receiver::kind::service, exporter,
                                               "latency:" + a.name + "/" + std::to_string(i));
    owners.start(r, i);
    reporters.push_back(r);
    w.clients.push_back(r);
  }
  w.subs.emplace_back(exporter, add_internal_subscription(*exporter, exporter->responses().reply_prefix() + ">",
                                                          std::make_shared<response_router>(exporter, server_name,
                                                                                            std::move(reporters))));
  return w;
}

}  // namespace actors
