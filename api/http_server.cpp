// The listener (accept loop with a connection limit) and the I/O thread pool.
#include "api/http_server.hpp"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "api/http_session.hpp"
#include "api/log.hpp"
#include "api/tls.hpp"

namespace loyalty::api {
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Accepts connections on its own strand; each connection gets a strand of its own.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& io_context, std::shared_ptr<ServerShared> shared)
      : io_context_(io_context),
        acceptor_(net::make_strand(io_context)),
        retry_timer_(acceptor_.get_executor()),
        shared_(std::move(shared)) {}

  error_code open(const tcp::endpoint& endpoint) {
    error_code error;
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(net::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(net::socket_base::max_listen_connections, error);
    return error;
  }

  tcp::endpoint local_endpoint() const {
    error_code ignored;
    return acceptor_.local_endpoint(ignored);
  }

  void run() {
    net::dispatch(acceptor_.get_executor(),
                  beast::bind_front_handler(&Listener::do_accept, shared_from_this()));
  }

  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->retry_timer_.cancel();
      self->acceptor_.close(ignored);
    });
  }

 private:
  void do_accept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(net::make_strand(io_context_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(error_code error, tcp::socket socket) {
    if (error == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (error) {
      // Typically out of file descriptors: pause instead of spinning on the same error.
      log_line("accept failed: " + error.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([self = shared_from_this()](error_code wait_error) {
        if (!wait_error) self->do_accept();
      });
      return;
    }
    if (shared_->connections.load(std::memory_order_relaxed) >= shared_->limits.connections_max) {
      error_code ignored;
      socket.close(ignored);  // over connections_max: refuse by closing at once
    } else {
      if (shared_->tls) {
        std::make_shared<HttpSession<TlsStream>>(std::move(socket), shared_)->run();
      } else {
        std::make_shared<HttpSession<PlainStream>>(std::move(socket), shared_)->run();
      }
    }
    do_accept();
  }

  net::io_context& io_context_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::shared_ptr<ServerShared> shared_;
};

namespace {

int io_thread_count(const LimitsConfig& limits) {
  if (limits.io_threads > 0) return static_cast<int>(limits.io_threads);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, ApiContext context, KeyTable keys)
    : options_(std::move(options)),
      shared_(std::make_shared<ServerShared>(std::move(context), std::move(keys), options_.limits,
                                             options_.rate_limits)),
      io_context_(io_thread_count(options_.limits)) {
  shared_->tls = options_.tls;
  shared_->cors = CorsPolicy(options_.cors_origins);
}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  const std::string where = format_listen_address(options_.listen);
  error_code error;
  tcp::endpoint endpoint;
  const net::ip::address address = net::ip::make_address(options_.listen.host, error);
  if (!error) {
    endpoint = tcp::endpoint(address, options_.listen.port);
  } else {
    tcp::resolver resolver(io_context_);
    const auto results =
        resolver.resolve(options_.listen.host, std::to_string(options_.listen.port), error);
    if (error || results.empty()) {
      return Status::error(Status::Code::invalid_argument,
                           "cannot resolve " + options_.listen.host + ": " + error.message());
    }
    endpoint = results.begin()->endpoint();
  }
  listener_ = std::make_shared<Listener>(io_context_, shared_);
  if (error = listener_->open(endpoint); error) {
    listener_.reset();
    return Status::error(Status::Code::io_error,
                         "cannot listen on " + where + ": " + error.message());
  }
  const tcp::endpoint local = listener_->local_endpoint();
  bound_ = ListenAddress{local.address().to_string(), local.port()};
  listener_->run();
  work_.emplace(io_context_.get_executor());
  const int count = io_thread_count(options_.limits);
  threads_.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) threads_.emplace_back([this] { io_context_.run(); });
  shared_->ready.store(true, std::memory_order_release);
  return Status::ok_status();
}

ListenAddress HttpServer::local_address() const { return bound_; }

void HttpServer::stop_accepting() {
  shared_->ready.store(false, std::memory_order_release);
  shared_->draining.store(true, std::memory_order_release);
  if (listener_) listener_->close();
}

bool HttpServer::wait_idle(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (shared_->requests_in_flight.load(std::memory_order_acquire) > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool HttpServer::close_streams(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  shared_->streams.go_away_all();
  while (shared_->streams.size() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void HttpServer::stop() {
  shared_->ready.store(false, std::memory_order_release);
  work_.reset();
  io_context_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace loyalty::api
