// Reading server.toml with toml11: every key is checked for type and range, unknown keys are
// refused by name, and no toml11 exception leaves this file.
#include "api/server_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "api/cors.hpp"

namespace loyalty::api {
namespace {

constexpr int64_t kPartitionsMax = 1024;
constexpr int64_t kIoThreadsMax = 1024;
constexpr int64_t kBodyBytesLimit = int64_t{64} << 20;   // a sanity bound on body_bytes_max
constexpr int64_t kHeaderBytesLimit = int64_t{1} << 20;  // and on header_bytes_max
constexpr int64_t kConnectionsLimit = 1'000'000;
constexpr int64_t kTimeoutMsLimit = 24 * 3600 * 1000;
constexpr int64_t kWsBacklogLimit = 1'000'000;  // a sanity bound on ws_backlog_max
constexpr int64_t kMemberCacheLimit = 100'000'000;
constexpr int64_t kMemberCacheMibLimit = 1 << 20;  // 1 TiB
constexpr int64_t kFeedRetentionLimit = 1'000'000'000;  // and on feed_retention_per_member
constexpr size_t kNameLengthMax = 128;
constexpr int64_t kRateLimitMax = 10'000'000;         // requests per second (or burst)
constexpr int64_t kMemberBucketsLimit = 100'000'000;  // a sanity bound on member_buckets_max

// Thrown inside this file only, caught by parse_server_config: keeps the checks linear.
struct Refusal {
  ConfigError error;
};

[[noreturn]] void refuse(std::string key, std::string message) {
  throw Refusal{ConfigError{std::move(key), std::move(message)}};
}

std::string join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

void refuse_unknown_keys(const toml::table& table, std::string_view prefix,
                         std::initializer_list<std::string_view> known) {
  std::set<std::string> unknown;  // sorted, so the same file always names the same key
  for (const auto& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key) == known.end()) unknown.insert(key);
  }
  if (!unknown.empty()) refuse(join(prefix, *unknown.begin()), "unknown key");
}

const toml::value* find(const toml::table& table, const std::string& key) {
  const auto it = table.find(key);
  return it == table.end() ? nullptr : &it->second;
}

std::string read_string(const toml::value& value, const std::string& key) {
  if (!value.is_string()) refuse(key, "must be a string");
  return value.as_string().str;
}

std::string read_nonempty_string(const toml::value& value, const std::string& key) {
  std::string text = read_string(value, key);
  if (text.empty()) refuse(key, "must not be empty");
  return text;
}

int64_t read_integer(const toml::value& value, const std::string& key, int64_t min, int64_t max) {
  if (!value.is_integer()) refuse(key, "must be an integer");
  const int64_t number = value.as_integer();
  if (number < min || number > max) {
    refuse(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return number;
}

bool is_hex_digest(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
         });
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

ApiKeyConfig read_api_key(const toml::value& value, const std::string& at) {
  if (!value.is_table()) refuse(at, "must be a table ([[api_keys]])");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, at, {"name", "role", "sha256", "stores"});
  ApiKeyConfig key;

  const toml::value* name = find(table, "name");
  if (name == nullptr) refuse(at + ".name", "is required");
  key.name = read_nonempty_string(*name, at + ".name");
  if (key.name.size() > kNameLengthMax) refuse(at + ".name", "must be at most 128 characters");

  const toml::value* role = find(table, "role");
  if (role == nullptr) refuse(at + ".role", "is required (admin, pos or app)");
  const std::string role_text = read_string(*role, at + ".role");
  if (role_text == "admin")
    key.role = Role::admin;
  else if (role_text == "pos")
    key.role = Role::pos;
  else if (role_text == "app")
    key.role = Role::app;
  else
    refuse(at + ".role", "must be admin, pos or app");

  const toml::value* digest = find(table, "sha256");
  if (digest == nullptr) refuse(at + ".sha256", "is required: the SHA-256 hex of the key");
  key.sha256_hex = lower(read_string(*digest, at + ".sha256"));
  if (!is_hex_digest(key.sha256_hex)) refuse(at + ".sha256", "must be 64 hex digits");

  const toml::value* stores = find(table, "stores");
  if (key.role != Role::pos) {
    if (stores != nullptr) refuse(at + ".stores", "only pos keys have stores");
    return key;
  }
  if (stores == nullptr) refuse(at + ".stores", "a pos key needs its stores ([\"*\"] = all)");
  if (!stores->is_array()) refuse(at + ".stores", "must be a list of store ids");
  const toml::array& list = stores->as_array();
  if (list.empty()) refuse(at + ".stores", "must name at least one store ([\"*\"] = all)");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string store_at = at + ".stores[" + std::to_string(i) + "]";
    std::string store = read_nonempty_string(list[i], store_at);
    if (store == "*")
      key.all_stores = true;
    else
      key.stores.push_back(std::move(store));
  }
  return key;
}

void read_api_keys(const toml::value& value, ServerConfig& config) {
  if (!value.is_array()) refuse("api_keys", "must be an array of tables ([[api_keys]])");
  const toml::array& list = value.as_array();
  std::set<std::string> names;
  std::set<std::string> digests;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "api_keys[" + std::to_string(i) + "]";
    ApiKeyConfig key = read_api_key(list[i], at);
    if (!names.insert(key.name).second) refuse(at + ".name", "another key has this name");
    if (!digests.insert(key.sha256_hex).second) {
      refuse(at + ".sha256", "another key has this hash");
    }
    config.api_keys.push_back(std::move(key));
  }
}

void read_member_tokens(const toml::value& value, ServerConfig& config) {
  if (!value.is_table()) refuse("member_tokens", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "member_tokens", {"hs256_secret"});
  if (const toml::value* secret = find(table, "hs256_secret")) {
    config.member_token_secret = read_nonempty_string(*secret, "member_tokens.hs256_secret");
  }
}

void read_http(const toml::value& value, HttpConfig& http) {
  if (!value.is_table()) refuse("http", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "http", {"cors_origins", "console"});
  if (const toml::value* origins = find(table, "cors_origins")) {
    if (!origins->is_array()) refuse("http.cors_origins", "must be an array of origins");
    const toml::array& list = origins->as_array();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string at = "http.cors_origins[" + std::to_string(i) + "]";
      std::string origin = read_string(list[i], at);
      if (!valid_cors_origin(origin)) {
        refuse(at,
               "must be an origin as browsers send it: http(s)://host[:port] in lower case, "
               "no path (\"*\" is not allowed)");
      }
      http.cors_origins.push_back(std::move(origin));
    }
  }
  if (const toml::value* console = find(table, "console")) {
    if (!console->is_boolean()) refuse("http.console", "must be true or false");
    http.console = console->as_boolean();
  }
}

void read_webhooks(const toml::value& value, WebhooksConfig& webhooks) {
  if (!value.is_table()) refuse("webhooks", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(
      table, "webhooks",
      {"delivery_threads", "timeout_seconds", "allow_private_addresses", "retry_schedule_seconds"});
  if (const toml::value* v = find(table, "delivery_threads")) {
    webhooks.delivery_threads =
        static_cast<uint32_t>(read_integer(*v, "webhooks.delivery_threads", 1, 64));
  }
  if (const toml::value* v = find(table, "timeout_seconds")) {
    webhooks.timeout_seconds =
        static_cast<uint32_t>(read_integer(*v, "webhooks.timeout_seconds", 1, 120));
  }
  if (const toml::value* v = find(table, "allow_private_addresses")) {
    if (!v->is_boolean()) refuse("webhooks.allow_private_addresses", "must be true or false");
    webhooks.allow_private_addresses = v->as_boolean();
  }
  if (const toml::value* v = find(table, "retry_schedule_seconds")) {
    if (!v->is_array() || v->as_array().empty() || v->as_array().size() > 20) {
      refuse("webhooks.retry_schedule_seconds", "must be an array of 1 to 20 delays in seconds");
    }
    const toml::array& delays = v->as_array();
    for (size_t i = 0; i < delays.size(); ++i) {
      webhooks.retry_schedule_seconds.push_back(static_cast<uint32_t>(read_integer(
          delays[i], "webhooks.retry_schedule_seconds[" + std::to_string(i) + "]", 1, 86400)));
    }
  }
}

// Only the keys' presence and type: the files are read when loyaltyd builds the TLS context
// (api/tls.hpp), so that parsing stays pure.
void read_tls(const toml::value& value, ServerConfig& config) {
  if (!value.is_table()) refuse("tls", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "tls", {"cert_file", "key_file"});
  TlsConfig tls;
  const toml::value* cert = find(table, "cert_file");
  if (cert == nullptr) refuse("tls.cert_file", "is required: the PEM certificate (chain) file");
  tls.cert_file = read_nonempty_string(*cert, "tls.cert_file");
  const toml::value* key = find(table, "key_file");
  if (key == nullptr) refuse("tls.key_file", "is required: the PEM private key file");
  tls.key_file = read_nonempty_string(*key, "tls.key_file");
  config.tls = std::move(tls);
}

void read_limits(const toml::value& value, LimitsConfig& limits) {
  if (!value.is_table()) refuse("limits", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "limits",
                      {"body_bytes_max", "batch_body_bytes_max", "header_bytes_max",
                       "connections_max", "header_timeout_ms", "idle_timeout_ms", "io_threads",
                       "ws_backlog_max", "feed_retention_per_member", "member_cache_members",
                       "member_cache_mib"});
  if (const toml::value* v = find(table, "body_bytes_max")) {
    limits.body_bytes_max =
        static_cast<size_t>(read_integer(*v, "limits.body_bytes_max", 1, kBodyBytesLimit));
  }
  if (const toml::value* v = find(table, "batch_body_bytes_max")) {
    limits.batch_body_bytes_max =
        static_cast<size_t>(read_integer(*v, "limits.batch_body_bytes_max", 1, kBodyBytesLimit));
  }
  if (const toml::value* v = find(table, "header_bytes_max")) {
    limits.header_bytes_max =
        static_cast<size_t>(read_integer(*v, "limits.header_bytes_max", 512, kHeaderBytesLimit));
  }
  if (const toml::value* v = find(table, "connections_max")) {
    limits.connections_max =
        static_cast<size_t>(read_integer(*v, "limits.connections_max", 1, kConnectionsLimit));
  }
  if (const toml::value* v = find(table, "header_timeout_ms")) {
    limits.header_timeout_ms =
        static_cast<uint32_t>(read_integer(*v, "limits.header_timeout_ms", 1, kTimeoutMsLimit));
  }
  if (const toml::value* v = find(table, "idle_timeout_ms")) {
    limits.idle_timeout_ms =
        static_cast<uint32_t>(read_integer(*v, "limits.idle_timeout_ms", 1, kTimeoutMsLimit));
  }
  if (const toml::value* v = find(table, "io_threads")) {
    limits.io_threads =
        static_cast<uint32_t>(read_integer(*v, "limits.io_threads", 0, kIoThreadsMax));
  }
  if (const toml::value* v = find(table, "ws_backlog_max")) {
    limits.ws_backlog_max =
        static_cast<size_t>(read_integer(*v, "limits.ws_backlog_max", 1, kWsBacklogLimit));
  }
  if (const toml::value* v = find(table, "member_cache_members")) {
    limits.member_cache_members =
        static_cast<size_t>(read_integer(*v, "limits.member_cache_members", 0, kMemberCacheLimit));
  }
  if (const toml::value* v = find(table, "member_cache_mib")) {
    limits.member_cache_bytes = static_cast<size_t>(read_integer(
                                    *v, "limits.member_cache_mib", 0, kMemberCacheMibLimit))
                                << 20;
  }
  if (const toml::value* v = find(table, "feed_retention_per_member")) {
    limits.feed_retention_per_member = static_cast<uint64_t>(
        read_integer(*v, "limits.feed_retention_per_member", 0, kFeedRetentionLimit));
  }
}

void read_rate_limits(const toml::value& value, RateLimitsConfig& rate_limits) {
  if (!value.is_table()) refuse("rate_limits", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "rate_limits",
                      {"per_key_rps", "per_key_burst", "per_member_token_rps",
                       "per_member_token_burst", "member_buckets_max"});
  const auto read_u32 = [&](const char* key, uint32_t& out) {
    if (const toml::value* v = find(table, key)) {
      out = static_cast<uint32_t>(
          read_integer(*v, std::string("rate_limits.") + key, 0, kRateLimitMax));
    }
  };
  read_u32("per_key_rps", rate_limits.per_key_rps);
  read_u32("per_key_burst", rate_limits.per_key_burst);
  read_u32("per_member_token_rps", rate_limits.per_member_token_rps);
  read_u32("per_member_token_burst", rate_limits.per_member_token_burst);
  if (const toml::value* v = find(table, "member_buckets_max")) {
    rate_limits.member_buckets_max = static_cast<size_t>(
        read_integer(*v, "rate_limits.member_buckets_max", 1, kMemberBucketsLimit));
  }
}

// [[schedules]]: {job = "expire" | "evaluate_tiers", every = "day" | "month", at = "HH:MM"}.
ops::Schedule read_schedule(const toml::value& value, const std::string& at) {
  if (!value.is_table()) refuse(at, "must be a table ([[schedules]])");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, at, {"job", "every", "at"});
  ops::Schedule schedule;
  const toml::value* job = find(table, "job");
  if (job == nullptr) refuse(at + ".job", "is required (expire or evaluate_tiers)");
  const std::string job_text = read_string(*job, at + ".job");
  if (job_text == "expire")
    schedule.job = JobType::expire;
  else if (job_text == "evaluate_tiers")
    schedule.job = JobType::evaluate_tiers;
  else
    refuse(at + ".job", "must be expire or evaluate_tiers");
  const toml::value* every = find(table, "every");
  if (every == nullptr) refuse(at + ".every", "is required (day or month)");
  const std::string every_text = read_string(*every, at + ".every");
  if (every_text == "day")
    schedule.every = ops::ScheduleEvery::day;
  else if (every_text == "month")
    schedule.every = ops::ScheduleEvery::month;
  else
    refuse(at + ".every", "must be day or month (the 1st of each month)");
  const toml::value* time = find(table, "at");
  if (time == nullptr)
    refuse(at + ".at",
           "is required: a local time of day (the program's time_zone) such as \"03:00\"");
  const std::optional<int> minute = parse_time_of_day(read_string(*time, at + ".at"));
  if (!minute || *minute >= static_cast<int>(ops::kMinutesPerDay)) {
    refuse(at + ".at", "must be a local time of day HH:MM, from 00:00 to 23:59");
  }
  schedule.at_minute = static_cast<uint32_t>(*minute);
  return schedule;
}

void read_schedules(const toml::value& value, ServerConfig& config) {
  if (!value.is_array()) refuse("schedules", "must be an array of tables ([[schedules]])");
  const toml::array& list = value.as_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "schedules[" + std::to_string(i) + "]";
    ops::Schedule schedule = read_schedule(list[i], at);
    for (const ops::Schedule& earlier : config.schedules) {
      if (earlier.job == schedule.job) refuse(at + ".job", "another schedule runs this job");
    }
    config.schedules.push_back(schedule);
  }
}

bool is_node_id(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// A name that may prefix NATS subjects and stream names and etcd keys: no dots, wildcards,
// slashes or spaces.
bool is_cluster_name(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

std::vector<std::string> read_urls(const toml::value& value, const std::string& key,
                                   std::initializer_list<std::string_view> schemes) {
  if (!value.is_array() || value.as_array().empty()) refuse(key, "must be a non-empty array");
  std::vector<std::string> urls;
  for (size_t i = 0; i < value.as_array().size(); ++i) {
    const std::string at = key + "[" + std::to_string(i) + "]";
    std::string url = read_nonempty_string(value.as_array()[i], at);
    const bool known = std::any_of(schemes.begin(), schemes.end(), [&](std::string_view scheme) {
      return url.starts_with(scheme) && url.size() > scheme.size();
    });
    if (!known) refuse(at, "must start with " + std::string(*schemes.begin()));
    urls.push_back(std::move(url));
  }
  return urls;
}

void read_cluster(const toml::value& value, ServerConfig& config) {
  if (!value.is_table()) refuse("cluster", "must be a table");
  const toml::table& table = value.as_table();
  refuse_unknown_keys(table, "cluster",
                      {"name", "node_id", "nats_urls", "etcd_endpoints", "partitions",
                       "stream_replicas", "standbys", "lease_seconds"});
  cluster::ClusterConfig cluster;
  if (const toml::value* v = find(table, "name")) {
    cluster.name = read_string(*v, "cluster.name");
    if (!is_cluster_name(cluster.name))
      refuse("cluster.name", "must be 1 to 32 letters, digits, '-' or '_'");
  }
  const toml::value* node_id = find(table, "node_id");
  if (node_id == nullptr)
    refuse("cluster.node_id", "is required: this node's id, unique in the cluster");
  cluster.node_id = read_string(*node_id, "cluster.node_id");
  if (!is_node_id(cluster.node_id)) refuse("cluster.node_id", "must match [a-z0-9-]{1,32}");
  const toml::value* nats = find(table, "nats_urls");
  if (nats == nullptr) refuse("cluster.nats_urls", "is required: the NATS servers to connect to");
  cluster.nats_urls = read_urls(*nats, "cluster.nats_urls", {"nats://", "tls://"});
  const toml::value* etcd = find(table, "etcd_endpoints");
  if (etcd == nullptr) refuse("cluster.etcd_endpoints", "is required: etcd's client URLs");
  cluster.etcd_endpoints = read_urls(*etcd, "cluster.etcd_endpoints", {"http://"});
  if (const toml::value* v = find(table, "partitions")) {
    cluster.partitions = static_cast<uint32_t>(read_integer(*v, "cluster.partitions", 1, 4096));
  }
  if (const toml::value* v = find(table, "stream_replicas")) {
    cluster.stream_replicas =
        static_cast<uint32_t>(read_integer(*v, "cluster.stream_replicas", 1, 5));
  }
  if (const toml::value* v = find(table, "standbys")) {
    cluster.standbys = static_cast<uint32_t>(read_integer(*v, "cluster.standbys", 0, 8));
  }
  if (const toml::value* v = find(table, "lease_seconds")) {
    cluster.lease_seconds = static_cast<uint32_t>(read_integer(*v, "cluster.lease_seconds", 2, 60));
  }
  config.cluster = std::move(cluster);
}

ServerConfig read_config(const toml::table& root) {
  refuse_unknown_keys(
      root, "",
      {"listen", "data_dir", "program", "durability", "partitions", "api_keys", "member_tokens",
       "limits", "rate_limits", "tls", "schedules", "cluster", "http", "webhooks"});
  ServerConfig config;
  if (const toml::value* v = find(root, "listen")) {
    std::optional<ListenAddress> address = parse_listen_address(read_string(*v, "listen"));
    if (!address) refuse("listen", "must be HOST:PORT with a port from 0 to 65535");
    config.listen = *address;
  }
  if (const toml::value* v = find(root, "data_dir")) {
    config.data_dir = read_nonempty_string(*v, "data_dir");
  }
  if (const toml::value* v = find(root, "program")) {
    config.program = read_nonempty_string(*v, "program");
  }
  if (const toml::value* v = find(root, "durability")) {
    const std::string text = read_string(*v, "durability");
    if (text == "fsync")
      config.durability = Durability::fsync;
    else if (text == "wal")
      config.durability = Durability::wal;
    else
      refuse("durability", "must be fsync or wal");
  }
  if (const toml::value* v = find(root, "partitions")) {
    config.partitions = static_cast<uint32_t>(read_integer(*v, "partitions", 0, kPartitionsMax));
  }
  if (const toml::value* v = find(root, "api_keys")) read_api_keys(*v, config);
  if (const toml::value* v = find(root, "member_tokens")) read_member_tokens(*v, config);
  if (const toml::value* v = find(root, "limits")) read_limits(*v, config.limits);
  if (const toml::value* v = find(root, "rate_limits")) read_rate_limits(*v, config.rate_limits);
  if (const toml::value* v = find(root, "tls")) read_tls(*v, config);
  if (const toml::value* v = find(root, "http")) read_http(*v, config.http);
  if (const toml::value* v = find(root, "webhooks")) read_webhooks(*v, config.webhooks);
  if (const toml::value* v = find(root, "schedules")) read_schedules(*v, config);
  if (const toml::value* v = find(root, "cluster")) read_cluster(*v, config);
  return config;
}

// toml11's messages span several lines (a source excerpt with carets); keep the first line and
// the line number so loyaltyd can print one line.
std::string one_line_syntax_error(const std::string& what) {
  std::istringstream in(what);
  std::string first;
  std::getline(in, first);
  if (first.starts_with("[error] ")) first.erase(0, 8);
  if (first.starts_with("toml::")) {
    if (const size_t colon = first.find(": "); colon != std::string::npos)
      first.erase(0, colon + 2);
  }
  std::string line;
  while (std::getline(in, line)) {
    const size_t bar = line.find(" | ");
    if (bar == std::string::npos) continue;
    const size_t digits = line.find_first_not_of(' ');
    if (digits < bar && std::isdigit(static_cast<unsigned char>(line[digits])) != 0) {
      return "line " + line.substr(digits, bar - digits) + ": " + first;
    }
  }
  return first;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::admin:
      return "admin";
    case Role::pos:
      return "pos";
    case Role::app:
      return "app";
  }
  return "app";
}

std::string ConfigError::to_line(std::string_view source_name) const {
  std::string line(source_name);
  line += ": ";
  if (!key.empty()) line += key + ": ";
  line += message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

std::variant<ServerConfig, ConfigError> parse_server_config(std::string_view text,
                                                            std::string_view source_name) {
  try {
    std::istringstream in{std::string(text)};
    const toml::value root = toml::parse(in, std::string(source_name));
    return read_config(root.as_table());
  } catch (const Refusal& refusal) {
    return refusal.error;
  } catch (const toml::syntax_error& error) {
    return ConfigError{"", one_line_syntax_error(error.what())};
  } catch (const std::exception& error) {
    return ConfigError{"", one_line_syntax_error(error.what())};
  }
}

std::optional<ListenAddress> parse_listen_address(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 host must be in brackets
  }
  if (port_text.empty() || port_text.size() > 5) return std::nullopt;
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return std::nullopt;
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

std::string format_listen_address(const ListenAddress& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

}  // namespace loyalty::api
