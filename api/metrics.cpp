// Keeping the API's figures and rendering every figure in the Prometheus text format 0.0.4.
#include "api/metrics.hpp"

#include <charconv>
#include <span>

#include "api/build_info.hpp"
#include "cluster/node.hpp"
#include "engine/runtime/runtime_metrics.hpp"
#include "webhooks/dispatcher.hpp"

namespace loyalty::api {
namespace {

constexpr std::string_view kUnmatchedRoute = "unmatched";

void append_number(std::string& out, double value) {
  char buffer[64];
  // Fixed notation, shortest round-trip: "0.0005" rather than "5e-04" for bucket bounds.
  const auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  if (error == std::errc{}) {
    out.append(buffer, end);
    return;
  }
  const auto [general_end, general_error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, general_error == std::errc{} ? general_end : buffer);
}

void append_number(std::string& out, uint64_t value) { out += std::to_string(value); }

// Label values are route templates, method names and numbers; escaped all the same.
void append_label_value(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}

void append_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// name{labels} value; `labels` is "" or `key="value",...` without braces.
template <class Number>
void append_sample(std::string& out, std::string_view name, std::string_view labels, Number value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out += ' ';
  append_number(out, value);
  out += '\n';
}

std::string label(std::string_view key, std::string_view value) {
  std::string text(key);
  text += '=';
  append_label_value(text, value);
  return text;
}

std::string join_labels(std::string_view first, std::string_view second) {
  if (first.empty()) return std::string(second);
  return std::string(first) + "," + std::string(second);
}

std::string bound_label(double bound) {
  std::string text;
  append_number(text, bound);
  return label("le", text);
}

// One histogram's _bucket (cumulative), _sum and _count lines. `buckets` are per bucket (not
// cumulative) with the +Inf bucket last.
void append_histogram(std::string& out, std::string_view name, std::string_view labels,
                      std::span<const double> bounds, std::span<const uint64_t> buckets,
                      double sum) {
  const std::string bucket_name = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets[i];
    append_sample(out, bucket_name, join_labels(labels, bound_label(bounds[i])), cumulative);
  }
  cumulative += buckets[bounds.size()];
  append_sample(out, bucket_name, join_labels(labels, label("le", "+Inf")), cumulative);
  append_sample(out, std::string(name) + "_sum", labels, sum);
  append_sample(out, std::string(name) + "_count", labels, cumulative);
}

template <size_t kBounds>
void append_fixed_histogram(std::string& out, std::string_view name,
                            const FixedHistogram<kBounds>& histogram) {
  std::array<uint64_t, kBounds + 1> buckets{};
  for (size_t i = 0; i <= kBounds; ++i) buckets[i] = histogram.bucket_count(i);
  append_histogram(out, name, "", histogram.upper_bounds(), buckets, histogram.sum());
}

std::string_view event_type_label(EventType type) {
  switch (type) {
    case EventType::signup:
      return "signup";
    case EventType::purchase:
      return "purchase";
    case EventType::refund:
      return "refund";
    case EventType::redemption:
      return "redemption";
    case EventType::hold:
      return "hold";
    case EventType::hold_capture:
      return "hold_capture";
    case EventType::hold_void:
      return "hold_void";
    case EventType::adjustment:
      return "adjustment";
    case EventType::referral_reward:
      return "referral_reward";
    case EventType::referral_reversal:
      return "referral_reversal";
    case EventType::expire_points:
      return "expire_points";
    case EventType::evaluate_tier:
      return "evaluate_tier";
    case EventType::recalc_adjustment:
      return "recalc_adjustment";
    case EventType::reward_redeem:
      return "reward_redeem";
    case EventType::coupon_use:
      return "coupon_use";
    case EventType::coupon_cancel:
      return "coupon_cancel";
    case EventType::member_update:
      return "member_update";
    case EventType::member_erase:
      return "member_erase";
  }
  return "unknown";
}

void render_runtime(std::string& out, const Runtime& runtime) {
  const RuntimeMetrics& figures = runtime.metrics();
  append_header(out, "loyalty_events_applied_total", "counter",
                "Events applied and committed, by event type (replays and refusals excluded).");
  for (size_t number = 1; number <= kEventTypeMax; ++number) {
    const auto type = static_cast<EventType>(number);
    append_sample(out, "loyalty_events_applied_total", label("type", event_type_label(type)),
                  figures.applied(type));
  }
  append_header(out, "loyalty_batch_events", "histogram",
                "Events per group commit batch taken from a partition queue.");
  append_fixed_histogram(out, "loyalty_batch_events", figures.batch_events);
  append_header(out, "loyalty_commit_duration_seconds", "histogram",
                "Time to write one batch to storage (one atomic write), in seconds.");
  append_fixed_histogram(out, "loyalty_commit_duration_seconds", figures.commit_seconds);
  // Finance's view of the points mall: coupons issued and not yet used, cancelled or expired,
  // and the points they were bought with (the liability until they are used).
  append_header(out, "loyalty_coupons_active", "gauge", "Coupons active (issued, not settled).");
  append_sample(out, "loyalty_coupons_active", "",
                static_cast<uint64_t>(std::max<int64_t>(figures.coupons_active(), 0)));
  append_header(out, "loyalty_coupons_liability_points", "gauge",
                "Points spent on the coupons that are active: their liability until used.");
  append_sample(out, "loyalty_coupons_liability_points", "",
                static_cast<uint64_t>(std::max<int64_t>(figures.coupon_points(), 0)));
  append_header(out, "loyalty_queue_depth", "gauge", "Requests waiting in a partition's queue.");
  for (uint32_t partition = 0; partition < runtime.partition_count(); ++partition) {
    append_sample(out, "loyalty_queue_depth", label("partition", std::to_string(partition)),
                  static_cast<uint64_t>(runtime.queue_depth(partition)));
  }
}

void render_storage(std::string& out, RocksStore& store) {
  StorageFigures figures;
  const bool ok = store.read_figures(figures).ok();
  append_header(out, "loyalty_rocksdb_up", "gauge",
                "1 when RocksDB's figures could be read for this scrape, else 0.");
  append_sample(out, "loyalty_rocksdb_up", "", uint64_t{ok ? 1u : 0u});
  if (!ok) return;
  const std::pair<std::string_view, std::pair<std::string_view, uint64_t>> gauges[] = {
      {"loyalty_rocksdb_memtable_bytes",
       {"Size of all memtables (rocksdb.cur-size-all-mem-tables).", figures.memtable_bytes}},
      {"loyalty_rocksdb_pending_compaction_bytes",
       {"Estimated bytes compaction still has to rewrite "
        "(rocksdb.estimate-pending-compaction-bytes).",
        figures.pending_compaction_bytes}},
      {"loyalty_rocksdb_live_wal_bytes",
       {"Size of the live write-ahead log files.", figures.live_wal_bytes}},
      {"loyalty_rocksdb_sst_bytes",
       {"Size of all SST files (rocksdb.total-sst-files-size).", figures.sst_bytes}},
      {"loyalty_rocksdb_block_cache_bytes",
       {"Memory held by the block cache, bounded by its capacity (rocksdb.block-cache-usage).",
        figures.block_cache_bytes}},
  };
  for (const auto& [name, help_and_value] : gauges) {
    append_header(out, name, "gauge", help_and_value.first);
    append_sample(out, name, "", help_and_value.second);
  }
  append_header(out, "loyalty_rocksdb_write_stalls_total", "counter",
                "Write stalls (RocksDB delaying or stopping writes for flushes and compactions "
                "to catch up), per column family episode, since the start.");
  append_sample(out, "loyalty_rocksdb_write_stalls_total", "", figures.write_stalls);
  append_header(out, "loyalty_rocksdb_write_stall_seconds_total", "counter",
                "Seconds column families spent in write stalls since the start.");
  append_sample(out, "loyalty_rocksdb_write_stall_seconds_total", "", figures.write_stall_seconds);
  append_header(out, "loyalty_rocksdb_writes_stopped", "gauge",
                "1 while RocksDB stops writes (rocksdb.is-write-stopped), else 0.");
  append_sample(out, "loyalty_rocksdb_writes_stopped", "",
                uint64_t{figures.writes_stopped ? 1u : 0u});
}

}  // namespace

void Metrics::observe_request(std::string_view route, std::string_view method, unsigned status,
                              double seconds) {
  size_t bucket = 0;
  while (bucket < kRequestSecondsBounds.size() && seconds > kRequestSecondsBounds[bucket]) {
    ++bucket;
  }
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), std::string(method), status}];
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(std::string(route), Latency{}).first;
  Latency& latency = it->second;
  ++latency.buckets[bucket];
  ++latency.count;
  latency.sum += seconds;
}

void Metrics::render(std::string& out) const {
  {
    std::lock_guard lock(mutex_);
    append_header(out, "loyalty_http_requests_total", "counter",
                  "HTTP requests answered, by route template, method and status.");
    for (const auto& [key, count] : requests_) {
      const auto& [route, method, status] = key;
      const std::string labels = label("route", route) + "," + label("method", method) + "," +
                                 label("status", std::to_string(status));
      append_sample(out, "loyalty_http_requests_total", labels, count);
    }
    append_header(out, "loyalty_http_request_duration_seconds", "histogram",
                  "Time from a request read to its response handed to the socket, by route.");
    for (const auto& [route, latency] : latency_) {
      append_histogram(out, "loyalty_http_request_duration_seconds", label("route", route),
                       kRequestSecondsBounds, latency.buckets, latency.sum);
    }
  }
  append_header(out, "loyalty_ws_connections", "gauge", "Open WebSocket connections.");
  append_sample(out, "loyalty_ws_connections", "",
                static_cast<double>(ws_connections_.load(std::memory_order_relaxed)));
  append_header(out, "loyalty_ws_slow_consumers_dropped_total", "counter",
                "WebSocket clients disconnected because their backlog passed the limit.");
  append_sample(out, "loyalty_ws_slow_consumers_dropped_total", "",
                ws_slow_consumers_dropped_.load(std::memory_order_relaxed));
}

Metrics& metrics() {
  static Metrics registry;
  return registry;
}

void RequestObservation::begin(http::verb method, std::string_view target) {
  start_ = std::chrono::steady_clock::now();
  route_ = route_template(target).value_or(kUnmatchedRoute);
  // Beast's names for the verbs it knows are static strings; unknown methods share one.
  method_ = method == http::verb::unknown ? std::string_view("unknown")
                                          : std::string_view(http::to_string(method));
  active_ = true;
}

void RequestObservation::begin_unrouted() {
  start_ = std::chrono::steady_clock::now();
  route_ = kUnmatchedRoute;
  method_ = "unknown";
  active_ = true;
}

void RequestObservation::finish(unsigned status) {
  if (!active_) return;
  active_ = false;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
  metrics().observe_request(route_, method_, status, elapsed.count());
}

// Cluster mode: this node's part (docs/cluster.md).
void render_cluster(std::string& out, const cluster::ClusterNode& node) {
  const std::vector<cluster::ClusterNode::Applying> applying = node.applying();
  uint64_t owned = 0, standby = 0;
  for (const auto& partition : applying) {
    owned += partition.role == cluster::Role::owner;
    standby += partition.role == cluster::Role::standby;
  }
  append_header(out, "loyalty_cluster_partitions", "gauge",
                "Partitions this node applies, by its role for them.");
  append_sample(out, "loyalty_cluster_partitions", label("role", "owner"), owned);
  append_sample(out, "loyalty_cluster_partitions", label("role", "standby"), standby);
  append_header(out, "loyalty_cluster_apply_lag_messages", "gauge",
                "Messages of a partition's log this node has not applied yet.");
  for (const auto& partition : applying) {
    append_sample(out, "loyalty_cluster_apply_lag_messages",
                  label("partition", std::to_string(partition.partition)), partition.lag);
  }
  const cluster::NodeMetrics& figures = node.metrics();
  const std::pair<const char*, uint64_t> counters[] = {
      {"failovers", node.failovers()},
      {"published", figures.published.load()},
      {"forwarded", figures.forwarded.load()},
      {"claims", figures.claims.load()},
      {"reads_forwarded", figures.reads_forwarded.load()},
      {"timed_out", figures.timed_out.load()},
  };
  const char* help[] = {
      "Partitions this node took over from an owner that was gone.",
      "Messages (events, claims) this node put in a partition's log.",
      "Events and claims this node sent to another partition owner.",
      "Claims asked for events this node accepted (client ids, identifiers).",
      "Member reads this node sent to the owner of the member's partition.",
      "Requests answered 503 for want of an owner's answer in time.",
  };
  for (size_t i = 0; i < std::size(counters); ++i) {
    const std::string name = std::string("loyalty_cluster_") + counters[i].first + "_total";
    append_header(out, name, "counter", help[i]);
    append_sample(out, name, "", counters[i].second);
  }
  append_header(out, "loyalty_cluster_publish_duration_seconds", "histogram",
                "From a publish to the stream's acknowledgement (replicated), in seconds.");
  append_fixed_histogram(out, "loyalty_cluster_publish_duration_seconds", figures.publish_seconds);
  append_header(out, "loyalty_cluster_log_connected", "gauge",
                "1 while this node is connected to a NATS server, else 0.");
  append_sample(out, "loyalty_cluster_log_connected", "",
                static_cast<uint64_t>(node.log_connected()));
}

void render_webhooks(std::string& out, const webhooks::Dispatcher& dispatcher) {
  const webhooks::DeliveryFigures figures = dispatcher.figures();
  struct Counter {
    const char* name;
    const char* type;
    const char* help;
    uint64_t webhooks::EndpointFigures::*field;
  };
  for (const Counter& c :
       {Counter{"loyalty_webhook_messages_delivered_total", "counter",
                "Webhook messages delivered (answered 2xx), by endpoint.",
                &webhooks::EndpointFigures::delivered},
        Counter{"loyalty_webhook_messages_failed_total", "counter",
                "Webhook messages given up after the whole retry schedule, by endpoint.",
                &webhooks::EndpointFigures::failed},
        Counter{"loyalty_webhook_attempts_total", "counter",
                "Webhook posts, answered or not, by endpoint.",
                &webhooks::EndpointFigures::attempts},
        Counter{"loyalty_webhook_retries_total", "counter",
                "Webhook posts that failed and will be tried again, by endpoint.",
                &webhooks::EndpointFigures::retries},
        Counter{"loyalty_webhook_pending_events", "gauge",
                "Event log records after where the endpoint's deliveries stand (their "
                "messages are pending).",
                &webhooks::EndpointFigures::pending_events}}) {
    append_header(out, c.name, c.type, c.help);
    for (const auto& [endpoint, values] : figures.endpoints) {
      append_sample(out, c.name, label("endpoint", endpoint), values.*c.field);
    }
  }
  append_header(out, "loyalty_webhook_delivery_latency_seconds", "histogram",
                "From a change to the delivery of its message.");
  append_histogram(out, "loyalty_webhook_delivery_latency_seconds", "",
                   webhooks::kDeliveryLatencyBounds, figures.latency_buckets, figures.latency_sum);
}

HttpResponse handle_metrics(const ApiContext& context) {
  std::string body;
  body.reserve(16 * 1024);
  // Which build answers (a dashboard joins it to tell versions apart during a rollout).
  append_header(body, "loyalty_build_info", "gauge", "The running build: its version and commit.");
  append_sample(body, "loyalty_build_info",
                join_labels(label("version", build_version()), label("commit", build_commit())),
                uint64_t{1});
  metrics().render(body);
  if (context.runtime != nullptr) render_runtime(body, *context.runtime);
  if (context.store != nullptr) render_storage(body, *context.store);
  if (context.cluster != nullptr) render_cluster(body, *context.cluster);
  if (context.webhooks != nullptr) render_webhooks(body, *context.webhooks);
  HttpResponse response{http::status::ok, 11};
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = std::move(body);
  return response;
}

}  // namespace loyalty::api
