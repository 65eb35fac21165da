// The server's Prometheus metrics (GET /metrics, text format 0.0.4): the API's own figures kept
// here (HTTP requests and latency, WebSocket connections), rendered together with the
// runtime's (engine/runtime/runtime_metrics.hpp) and RocksDB's (RocksStore::read_figures).
//
// For the WebSocket code: call metrics().ws_connection_opened() / ws_connection_closed() once
// per upgraded connection, and metrics().ws_slow_consumer_dropped() when a subscriber is
// disconnected for its backlog.
// Thread-safety: every method may be called from any thread. The WebSocket figures are
// atomics; HTTP figures take one short mutex per answered request.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "api/http_message.hpp"
#include "api/router.hpp"

namespace loyalty::api {

// Request latency buckets in seconds (upper bounds; +Inf is implicit).
inline constexpr std::array<double, 12> kRequestSecondsBounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

class Metrics {
 public:
  // One answered HTTP request. `route` is a route's path template (or "unmatched"), so the
  // number of label values is bounded whatever clients send.
  void observe_request(std::string_view route, std::string_view method, unsigned status,
                       double seconds);

  void ws_connection_opened() { ws_connections_.fetch_add(1, std::memory_order_relaxed); }
  void ws_connection_closed() { ws_connections_.fetch_sub(1, std::memory_order_relaxed); }
  void ws_slow_consumer_dropped() {
    ws_slow_consumers_dropped_.fetch_add(1, std::memory_order_relaxed);
  }

  // The API's own figures in the text format (appended to `out`).
  void render(std::string& out) const;

 private:
  struct Latency {
    std::array<uint64_t, kRequestSecondsBounds.size() + 1> buckets{};  // not cumulative
    uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mutex_;
  // (route, method, status) → requests
  std::map<std::tuple<std::string, std::string, unsigned>, uint64_t> requests_;
  std::map<std::string, Latency, std::less<>> latency_;  // by route
  std::atomic<int64_t> ws_connections_{0};
  std::atomic<uint64_t> ws_slow_consumers_dropped_{0};
};

// The process's registry.
Metrics& metrics();

// Times one HTTP request from when it was read to when its response is handed to the socket,
// and records it in metrics(). Held by the session (one request at a time).
class RequestObservation {
 public:
  // A request that reached the router.
  void begin(http::verb method, std::string_view target);
  // A request refused before it could be routed (too large, not HTTP).
  void begin_unrouted();
  // Records the request with its status; does nothing if none is being timed.
  void finish(unsigned status);

 private:
  std::chrono::steady_clock::time_point start_;
  std::string_view route_;
  std::string_view method_;
  bool active_ = false;
};

// GET /metrics (no auth): metrics() with the runtime's and storage's figures, as
// `text/plain; version=0.0.4`. Parts whose service is absent from the context are left out.
HttpResponse handle_metrics(const ApiContext& context);

}  // namespace loyalty::api
