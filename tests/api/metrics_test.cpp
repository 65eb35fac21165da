// The Prometheus text the API renders for its own figures and the runtime's histograms.
#include "api/metrics.hpp"

#include <gtest/gtest.h>

namespace loyalty::api {
namespace {

TEST(Metrics, RendersRequestCountersAndCumulativeHistograms) {
  Metrics registry;
  registry.observe_request("/v1/events/purchase", "POST", 200, 0.0007);
  registry.observe_request("/v1/events/purchase", "POST", 200, 0.3);
  registry.observe_request("/v1/events/purchase", "POST", 422, 9.0);
  registry.ws_connection_opened();
  registry.ws_slow_consumer_dropped();
  std::string text;
  registry.render(text);
  EXPECT_NE(text.find("# TYPE loyalty_http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("loyalty_http_requests_total{route=\"/v1/events/purchase\",method=\"POST\","
                      "status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  const std::string bucket =
      "loyalty_http_request_duration_seconds_bucket{route=\"/v1/events/purchase\",";
  EXPECT_NE(text.find(bucket + "le=\"0.0005\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find(bucket + "le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find(bucket + "le=\"0.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find(bucket + "le=\"2.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find(bucket + "le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("loyalty_http_request_duration_seconds_count{route=\"/v1/events/purchase\"}"
                      " 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("loyalty_ws_connections 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("loyalty_ws_slow_consumers_dropped_total 1\n"), std::string::npos) << text;
}

TEST(Metrics, MetricsEndpointWithoutServicesRendersTheApiFigures) {
  metrics().observe_request("/healthz", "GET", 200, 0.0001);
  const HttpResponse response = handle_metrics(ApiContext{});
  EXPECT_EQ(response.result(), http::status::ok);
  EXPECT_EQ(response[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response.body().find("route=\"/healthz\""), std::string::npos);
}

TEST(RuntimeMetrics, HistogramBucketsAndSum) {
  RuntimeMetrics figures;
  figures.batch_events.record(1);
  figures.batch_events.record(3);
  figures.batch_events.record(5000);
  EXPECT_EQ(figures.batch_events.bucket_count(0), 1u);                          // ≤ 1
  EXPECT_EQ(figures.batch_events.bucket_count(2), 1u);                          // ≤ 4
  EXPECT_EQ(figures.batch_events.bucket_count(kBatchEventsBounds.size()), 1u);  // +Inf
  EXPECT_DOUBLE_EQ(figures.batch_events.sum(), 5004.0);
  figures.count_applied(EventType::purchase);
  EXPECT_EQ(figures.applied(EventType::purchase), 1u);
  EXPECT_EQ(figures.applied(EventType::refund), 0u);
}

}  // namespace
}  // namespace loyalty::api
