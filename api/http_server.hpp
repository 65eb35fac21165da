// The HTTP server: a listener accepting connections into HttpSessions, and a pool of I/O
// threads running one io_context. loyaltyd drives its life: start → (serve) → stop_accepting
// → runtime.stop() → wait_idle → close_streams → stop. With a TLS context every connection
// is HTTPS (and wss://); without one, plain HTTP.
// Thread-safety: call the methods from one controlling thread (loyaltyd's main thread). The
// Runtime must be stopped before the server is destroyed: its completions post to sessions
// that live on this server's io_context.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "api/auth.hpp"
#include "api/router.hpp"
#include "api/server_config.hpp"
#include "engine/status.hpp"

namespace boost::asio::ssl {
class context;
}

namespace loyalty::api {

struct ServerShared;
class Listener;

struct HttpServerOptions {
  ListenAddress listen;
  LimitsConfig limits;
  RateLimitsConfig rate_limits;
  std::shared_ptr<boost::asio::ssl::context> tls;  // make_tls_context (api/tls.hpp); null: plain
  std::vector<std::string> cors_origins;           // [http] cors_origins
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, ApiContext context, KeyTable keys);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. When it returns ok, connections are accepted
  // and local_address() tells the bound port.
  Status start();
  ListenAddress local_address() const;

  // Stops accepting; /readyz turns 503 and connections close after their current response.
  void stop_accepting();
  // Waits until no request is between being read and being answered, at most `grace`.
  // Returns whether that happened.
  bool wait_idle(std::chrono::milliseconds grace);
  // Sends every open WebSocket a close frame with 1001 (going away), after what it has queued,
  // and waits until they are all closed, at most `grace`. Returns whether that happened.
  bool close_streams(std::chrono::milliseconds grace);
  // Stops the I/O threads and closes every connection. Idempotent.
  void stop();

 private:
  HttpServerOptions options_;
  std::shared_ptr<ServerShared> shared_;
  boost::asio::io_context io_context_;
  // Keeps the I/O threads running while no socket operation is pending, e.g. when every
  // session waits for the runtime after the acceptor closed: their responses still need a
  // thread to be written on.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  ListenAddress bound_;
};

}  // namespace loyalty::api
