// Posts one message to an endpoint over HTTP or HTTPS (Boost.Beast), within a timeout for the
// whole exchange, and says how it went. HTTPS verifies the endpoint's certificate against the
// system's CAs (OpenSSL's default paths: SSL_CERT_FILE / SSL_CERT_DIR move them) and its name.
// Every address the host resolves to must be public unless private ones are allowed.
// Thread-safety: one Sender per delivery thread.
#pragma once

#include <chrono>
#include <cstdint>
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
};

class Sender {
 public:
  Sender(std::chrono::milliseconds timeout, bool allow_private);

  SendResult post(const Destination& destination,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  std::string_view body);

 private:
  std::chrono::milliseconds timeout_;
  bool allow_private_;
};

}  // namespace loyalty::webhooks
