// Posts one message to an endpoint over HTTP or HTTPS (Boost.Beast), within a timeout for the
// whole exchange, and says how it went. HTTPS verifies the endpoint's certificate against the
// system's CAs (OpenSSL's default paths: SSL_CERT_FILE / SSL_CERT_DIR move them) and its name.
// Every address the host resolves to must be public unless private ones are allowed.
// Connections are kept open between messages (HTTP/1.1 keep-alive) for a few seconds, one per
// destination, so that a stream of messages to one endpoint pays for one TCP and TLS handshake;
// a kept connection the endpoint closed meanwhile is replaced by a new one at once.
// Thread-safety: one Sender per delivery thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhooks/destination.hpp"

namespace loyalty::webhooks {

struct SendResult {
  uint32_t status = 0;  // the HTTP status; 0 when there was none (error says why)
  std::string error;
  std::optional<int64_t> retry_after_seconds;  // from a Retry-After header in seconds
  uint32_t duration_ms = 0;
  bool reused_connection = false;  // went over a connection an earlier message opened
};

class Sender {
 public:
  // How long a connection is kept unused: under the 5 s most servers keep one (Node's default),
  // so that an endpoint seldom closes one just as a message goes out on it.
  static constexpr std::chrono::milliseconds kIdleMax{4000};

  Sender(std::chrono::milliseconds timeout, bool allow_private);
  ~Sender();
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  SendResult post(const Destination& destination,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace loyalty::webhooks
