// [cluster] in server.toml (cluster.md "server.toml"): absent means single mode; present, its
// required keys, ranges and forms are checked and a bad one is named.
#include <gtest/gtest.h>

#include <string>

#include "api/server_config.hpp"
#include "tests/support/config_error.hpp"

namespace loyalty::api {
namespace {

const char* const kCluster = R"([cluster]
name = "loyalty"
node_id = "n1"
nats_urls = ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
etcd_endpoints = ["http://127.0.0.1:2379"]
)";

using testing::config_error;

TEST(ClusterConfig, AbsentMeansSingleMode) {
  auto parsed = parse_server_config("listen = \"127.0.0.1:0\"\n", "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  EXPECT_FALSE(std::get<ServerConfig>(parsed).cluster.has_value());
}

TEST(ClusterConfig, ReadsTheSpecsKeysWithTheirDefaults) {
  auto parsed = parse_server_config(kCluster, "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(parsed));
  const auto& cluster = std::get<ServerConfig>(parsed).cluster;
  ASSERT_TRUE(cluster.has_value());
  EXPECT_EQ(cluster->name, "loyalty");
  EXPECT_EQ(cluster->node_id, "n1");
  EXPECT_EQ(cluster->nats_urls.size(), 2u);
  EXPECT_EQ(cluster->etcd_endpoints.front(), "http://127.0.0.1:2379");
  EXPECT_EQ(cluster->partitions, 32u);
  EXPECT_EQ(cluster->stream_replicas, 3u);
  EXPECT_EQ(cluster->standbys, 1u);
  EXPECT_EQ(cluster->lease_seconds, 5u);

  auto set = parse_server_config(std::string(kCluster) +
                                     "partitions = 4096\nstream_replicas = 1\nstandbys = 0\n"
                                     "lease_seconds = 60\n",
                                 "server.toml");
  ASSERT_TRUE(std::holds_alternative<ServerConfig>(set));
  EXPECT_EQ(std::get<ServerConfig>(set).cluster->partitions, 4096u);
  EXPECT_EQ(std::get<ServerConfig>(set).cluster->lease_seconds, 60u);
}

TEST(ClusterConfig, RefusesBadValuesByName) {
  const std::string base = kCluster;
  EXPECT_EQ(config_error(base + "partitions = 0\n").key, "cluster.partitions");
  EXPECT_EQ(config_error(base + "partitions = 4097\n").key, "cluster.partitions");
  EXPECT_EQ(config_error(base + "lease_seconds = 1\n").key, "cluster.lease_seconds");
  EXPECT_EQ(config_error(base + "lease_seconds = 61\n").key, "cluster.lease_seconds");
  EXPECT_EQ(config_error(base + "stream_replicas = 0\n").key, "cluster.stream_replicas");
  EXPECT_EQ(config_error(base + "replicas = 3\n").key, "cluster.replicas");
  EXPECT_EQ(config_error("[cluster]\nnode_id = \"n1\"\netcd_endpoints = [\"http://e:1\"]\n").key,
            "cluster.nats_urls");
  EXPECT_EQ(config_error("[cluster]\nnode_id = \"n1\"\nnats_urls = [\"nats://n:1\"]\n").key,
            "cluster.etcd_endpoints");
  EXPECT_EQ(
      config_error("[cluster]\nnats_urls = [\"nats://n:1\"]\netcd_endpoints = [\"http://e:1\"]\n")
          .key,
      "cluster.node_id");
}

TEST(ClusterConfig, RefusesIdsAndUrlsOfTheWrongForm) {
  auto with = [](const std::string& key, const std::string& value) {
    std::string text = kCluster;
    const size_t at = text.find(key + " = ");
    const size_t end = text.find('\n', at);
    return text.replace(at, end - at, key + " = " + value);
  };
  EXPECT_EQ(config_error(with("node_id", "\"N1\"")).key, "cluster.node_id");
  EXPECT_EQ(config_error(with("node_id", "\"n.1\"")).key, "cluster.node_id");
  EXPECT_EQ(config_error(with("node_id", "\"" + std::string(33, 'a') + "\"")).key,
            "cluster.node_id");
  EXPECT_EQ(config_error(with("name", "\"a.b\"")).key, "cluster.name");
  EXPECT_EQ(config_error(with("nats_urls", "[]")).key, "cluster.nats_urls");
  EXPECT_EQ(config_error(with("nats_urls", "[\"http://127.0.0.1:4222\"]")).key,
            "cluster.nats_urls[0]");
  EXPECT_EQ(config_error(with("etcd_endpoints", "[\"127.0.0.1:2379\"]")).key,
            "cluster.etcd_endpoints[0]");
}

}  // namespace
}  // namespace loyalty::api
