// loyaltyd's server.toml (config.md "server.toml"): where to listen, the data folder, the API
// keys, and the server's own limits. Parsing is pure (text in, value or error out); never throws.
// Thread-safety: the parsed ServerConfig is a plain value, read-only once loyaltyd has built it.
//
// Relative paths (data_dir, program) are kept as written and resolved against loyaltyd's
// current working directory, not against the folder of server.toml: the shipped file says
// `program = "config/program.toml"` for a server started from the repository root.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cluster/cluster_config.hpp"
#include "ops/schedule.hpp"
#include "storage/rocks_store.hpp"

namespace loyalty::api {

enum class Role : uint8_t { admin = 0, pos = 1, app = 2 };

std::string_view role_name(Role role);

struct ApiKeyConfig {
  std::string name;  // shows in logs, never the key itself
  Role role = Role::app;
  std::string sha256_hex;  // 64 lower-case hex digits: the SHA-256 of the key
  // pos only: the stores it may post events for. all_stores is set by the entry "*".
  std::vector<std::string> stores;
  bool all_stores = false;
};

// [limits]: optional; every key has a default chosen for one small server.
struct LimitsConfig {
  // Largest request body; larger → 413 payload_too_large. Default 65536 (api.md: 64 KiB).
  size_t body_bytes_max = 65536;
  // Largest body of POST /v1/events:batch, which carries up to 1,000 events. Default 4194304
  // (4 MiB: about 4 KiB per event).
  size_t batch_body_bytes_max = size_t{4} << 20;
  // Largest request line plus headers. Default 8192, what common proxies allow.
  size_t header_bytes_max = 8192;
  // Open connections at once; further ones are closed on accept. Default 10000.
  size_t connections_max = 10000;
  // Time to receive one whole request once it starts (or from connect): stops slow senders.
  // Default 10000.
  uint32_t header_timeout_ms = 10000;
  // Time a keep-alive connection may sit idle between requests, and to write a response.
  // Default 60000.
  uint32_t idle_timeout_ms = 60000;
  // Threads running the network I/O; 0 = one per core. Default 0.
  uint32_t io_threads = 0;
  // Messages one WebSocket may have waiting to be written (pushes, catch-up, results); past
  // it the client is sent a close frame ("slow consumer") and dropped. Default 1024.
  size_t ws_backlog_max = 1024;
  // Notifications kept per member for WebSocket catch-up (after_seq); older ones are deleted
  // as new ones are written. 0 keeps everything. Default 1000.
  uint64_t feed_retention_per_member = 1000;
  // Members the writers keep in memory between batches (least recently used leave first);
  // bounds the server's memory however many members are stored. 0 turns the cache off.
  // Default 500000 (a few hundred MiB for typical members).
  size_t member_cache_members = 500000;
  size_t member_cache_bytes = size_t{512} << 20;  // [limits] member_cache_mib
};

// [rate_limits]: optional; token buckets (api/rate_limiter.hpp). Over the limit → 429
// rate_limited with Retry-After. An rps of 0 turns that limit off; a burst of 0 means one
// second's worth (the rps).
struct RateLimitsConfig {
  // Sustained requests per second per API key. Default 1000: far above one POS terminal,
  // low enough that one leaked or looping key cannot take the whole server.
  uint32_t per_key_rps = 1000;
  // Requests a key may make at once above its rate. Default 2000 (two seconds' worth).
  uint32_t per_key_burst = 2000;
  // Sustained requests per second per member (all of its member tokens together). Default 20:
  // a mini-program refreshing a member's screen, not a scraper.
  uint32_t per_member_token_rps = 20;
  // Default 40 (two seconds' worth).
  uint32_t per_member_token_burst = 40;
  // Members whose buckets are held at once; beyond it idle (full) buckets are dropped, then
  // the least recently used. Default 100000 (about 10 MB).
  size_t member_buckets_max = 100000;
};

struct ListenAddress {
  std::string host;   // "127.0.0.1", "0.0.0.0", "::1" (brackets removed), or a host name
  uint16_t port = 0;  // 0: the system picks a free port (loyaltyd logs the bound one)
};

// [tls]: optional. When present the listener speaks only TLS (1.2 and newer): HTTPS, and wss://
// on GET /v1/stream, on the same port; without it everything is plain HTTP. Both files are PEM,
// read once at start: the certificate file holds the server's certificate followed by any
// intermediates; the private key must not be encrypted (there is no one to type a passphrase).
struct TlsConfig {
  std::string cert_file;
  std::string key_file;
};

// [http]: what browsers may do.
struct HttpConfig {
  // Origins whose pages may call the API (api/cors.hpp); none by default.
  std::vector<std::string> cors_origins;
  bool console = true;  // serve the operator console under /console/
};

// [webhooks]: deliveries (webhooks/dispatcher.hpp).
struct WebhooksConfig {
  uint32_t delivery_threads = 1;
  uint32_t timeout_seconds = 10;
  bool allow_private_addresses = false;  // SSRF: refuse loopback and private ranges unless true
  // After each failed attempt, seconds until the next; empty: the spec's schedule (5 s … 24 h).
  // Shorter schedules are for tests and for operators who want failures sooner.
  std::vector<uint32_t> retry_schedule_seconds;
};

struct ServerConfig {
  ListenAddress listen{"127.0.0.1", 8080};
  std::string data_dir = "data";
  std::string program = "config/program.toml";  // seeds the first program version
  Durability durability = Durability::fsync;
  uint32_t partitions = 0;  // writer threads; 0 = one per core
  std::vector<ApiKeyConfig> api_keys;
  std::string member_token_secret;  // [member_tokens] hs256_secret; "" when absent
  LimitsConfig limits;
  RateLimitsConfig rate_limits;
  std::optional<TlsConfig> tls;  // [tls]; none: plain HTTP
  HttpConfig http;
  WebhooksConfig webhooks;
  // [[schedules]]: the periodic jobs (ops/job_scheduler.hpp), at most one per job kind.
  std::vector<ops::Schedule> schedules;
  // [cluster]: this server is one node of a cluster (cluster/cluster_config.hpp); none: alone.
  std::optional<cluster::ClusterConfig> cluster;
};

// What is wrong and where: `key` is the dotted path ("api_keys[1].role", "limits.io_threads"),
// empty for a TOML syntax error, whose message then names the line.
struct ConfigError {
  std::string key;
  std::string message;

  // The one line loyaltyd prints: "config/server.toml: api_keys[1].role: must be admin, pos or
  // app".
  std::string to_line(std::string_view source_name) const;
};

// Parses server.toml text. `source_name` is only used for toml11's own bookkeeping.
[[nodiscard]] std::variant<ServerConfig, ConfigError> parse_server_config(
    std::string_view text, std::string_view source_name);

// "HOST:PORT" or "[IPv6]:PORT"; used for `listen` and for the --listen flag.
[[nodiscard]] std::optional<ListenAddress> parse_listen_address(std::string_view text);

// "127.0.0.1:8080", or "[::1]:8080" for an IPv6 host.
std::string format_listen_address(const ListenAddress& address);

}  // namespace loyalty::api
