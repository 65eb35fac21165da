// One HTTP/1.1 connection (after Beast's example/advanced/server): read a request, route it,
// write the response, repeat while keep-alive. Every step runs on the connection's strand;
// responses from runtime writer threads are posted back to it, never written from there.
// The session is a template over its transport, instantiated for plain TCP (PlainStream) and
// for TLS (TlsStream, api/tls.hpp): the one code path has the same timeouts, limits, request
// ids and rate limits for both; a TLS connection first does its handshake within
// header_timeout_ms, and closes with a TLS shutdown.
// Thread-safety: a session is driven only by its own strand. ServerShared is shared by all
// sessions and the server; its mutable parts are atomics or thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "api/auth.hpp"
#include "api/cors.hpp"
#include "api/metrics.hpp"
#include "api/rate_limiter.hpp"
#include "api/router.hpp"
#include "api/server_config.hpp"
#include "api/stream_registry.hpp"

namespace boost::asio::ssl {
class context;
}

namespace loyalty::api {

struct ServerShared {
  ServerShared(ApiContext api_context, KeyTable key_table, LimitsConfig limit_config,
               RateLimitsConfig rate_limit_config = {})
      : context(std::move(api_context)),
        keys(std::move(key_table)),
        limits(limit_config),
        rate_limiter(rate_limit_config) {
    context.ready = &ready;
  }

  ApiContext context;
  const KeyTable keys;
  const LimitsConfig limits;
  RateLimiter rate_limiter;           // thread-safe
  std::atomic<bool> ready{false};     // /readyz: listening and not draining
  std::atomic<bool> draining{false};  // shutting down: no keep-alive after the current response
  std::atomic<size_t> connections{0};
  std::atomic<size_t> requests_in_flight{0};  // read but not yet fully answered
  StreamRegistry streams;                     // open WebSocket sessions, told 1001 at shutdown
  // [tls]: set before the server starts, read-only afterwards; null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  CorsPolicy cors{{}};  // [http] cors_origins: set before the server starts
};

// Stream: PlainStream or TlsStream (api/tls.hpp); both are instantiated in http_session.cpp.
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<ServerShared> shared);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Starts the TLS handshake, or reading, on the session's strand.
  void run();

 private:
  using error_code = boost::beast::error_code;
  static constexpr bool kTls = !std::is_same_v<Stream, boost::beast::tcp_stream>;

  void on_handshake(error_code error);
  // The largest body accepted for a request to `target` (the batch endpoint has its own).
  size_t body_limit_for(std::string_view target) const;
  void do_read();
  void on_idle_read(error_code error, size_t bytes);
  void do_read_header();
  void on_read_header(error_code error, size_t bytes);
  void on_continue_written(error_code error, size_t bytes);
  void on_read(error_code error, size_t bytes);
  void on_read_error(error_code error);
  void handle_request();
  void send_error(HttpResponse&& response);
  void send(HttpResponse&& response);
  void on_write(bool keep_alive, error_code error, size_t bytes);
  void do_close();
  void on_shutdown(error_code error);
  void begin_request();
  void end_request();

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<ServerShared> shared_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;  // "100 Continue" for Expect: 100-continue
  HttpResponse response_;                      // the response being written
  std::string request_id_;
  std::string request_origin_;  // its Origin header ("" when none): CORS
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool first_request_ = true;
  bool in_flight_ = false;
  // For the request's structured log line (api/logger.hpp): never the credential itself.
  std::chrono::steady_clock::time_point request_started_;
  std::string request_method_;
  std::string_view request_route_ = "unmatched";
  std::string request_principal_;   // the key's name or "member-token"; "" when none
  std::string request_member_;      // a member token's member id
  RequestObservation observation_;  // times the current request for metrics()
};

}  // namespace loyalty::api
