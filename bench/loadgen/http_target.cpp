// HTTP/1.1 keep-alive client of loyaltyd (see http_target.hpp).
#include "bench/loadgen/http_target.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "bench/loadgen/wire_format.hpp"

namespace loyalty::bench {

namespace net = boost::asio;
namespace http = boost::beast::http;
using net::ip::tcp;

struct HttpTarget::Connection {
  explicit Connection(net::io_context& io) : socket(io) {}
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  Request current;
};

HttpTarget::HttpTarget() = default;
HttpTarget::~HttpTarget() { close(); }

bool HttpTarget::connect(const HttpOptions& options, std::string& error) {
  options_ = options;
  host_header_ = options.server.host + ":" + std::to_string(options.server.port);
  try {
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(options.server.host, std::to_string(options.server.port));
    for (size_t i = 0; i < options.connections; ++i) {
      auto connection = std::make_unique<Connection>(io_);
      net::connect(connection->socket, endpoints);
      connection->socket.set_option(tcp::no_delay(true));
      idle_.push_back(connection.get());
      connections_.push_back(std::move(connection));
    }
  } catch (const std::exception& problem) {
    error = host_header_ + ": " + problem.what();
    return false;
  }
  alive_ = connections_.size();
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
  return true;
}

void HttpTarget::submit(Event&& event, Done done) {
  const HttpCall call = http_call(event);
  const std::string& key = call.role == Role::app ? options_.app_key : options_.pos_key;
  Request request{http_request_text(call, host_header_, key), std::move(done)};
  net::post(io_, [this, request = std::move(request)]() mutable { dispatch(std::move(request)); });
}

void HttpTarget::dispatch(Request&& request) {
  if (alive_ == 0) {
    request.done({false, "connection lost"});
    return;
  }
  if (idle_.empty()) {
    waiting_.push_back(std::move(request));
    return;
  }
  Connection* connection = idle_.back();
  idle_.pop_back();
  connection->current = std::move(request);
  start(*connection);
}

void HttpTarget::start(Connection& connection) {
  net::async_write(connection.socket, net::buffer(connection.current.text),
                   [this, &connection](boost::system::error_code error, size_t) {
                     if (error) {
                       --alive_;
                       connection.current.done({false, "connection lost"});
                       while (alive_ == 0 && !waiting_.empty()) {
                         waiting_.front().done({false, "connection lost"});
                         waiting_.pop_front();
                       }
                       return;
                     }
                     connection.parser.emplace();
                     connection.parser->body_limit(size_t{64} << 20);
                     http::async_read(
                         connection.socket, connection.buffer, *connection.parser,
                         [this, &connection](boost::system::error_code read_error, size_t) {
                           if (read_error) {
                             --alive_;
                             connection.current.done({false, "connection lost"});
                             while (alive_ == 0 && !waiting_.empty()) {
                               waiting_.front().done({false, "connection lost"});
                               waiting_.pop_front();
                             }
                             return;
                           }
                           const unsigned status = connection.parser->get().result_int();
                           Outcome outcome;
                           outcome.ok = status >= 200 && status < 300;
                           if (!outcome.ok) outcome.failure = std::to_string(status);
                           connection.current.done(outcome);
                           finished(connection);
                         });
                   });
}

void HttpTarget::finished(Connection& connection) {
  if (waiting_.empty()) {
    idle_.push_back(&connection);
    return;
  }
  connection.current = std::move(waiting_.front());
  waiting_.pop_front();
  start(connection);
}

void HttpTarget::close() {
  if (!thread_.joinable()) return;
  work_.reset();
  net::post(io_, [this] {
    for (auto& connection : connections_) {
      boost::system::error_code ignored;
      connection->socket.shutdown(tcp::socket::shutdown_both, ignored);
      connection->socket.close(ignored);
    }
  });
  thread_.join();
}

}  // namespace loyalty::bench
