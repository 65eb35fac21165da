// WebSocket ingest client (see ws_target.hpp).
#include "bench/loadgen/ws_target.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <deque>

#include "api/wire_generated.h"
#include "bench/loadgen/wire_format.hpp"

namespace loyalty::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using net::ip::tcp;

namespace {

// The status of one result frame: ResultFrame.status, or "status" of {"op":"result",…}.
unsigned result_status(const beast::flat_buffer& buffer, bool binary) {
  const auto* data = static_cast<const char*>(buffer.data().data());
  const size_t size = buffer.size();
  if (binary) {
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(data), size);
    if (!verifier.VerifyBuffer<wire::ResultFrame>(nullptr)) return 0;
    return flatbuffers::GetRoot<wire::ResultFrame>(data)->status();
  }
  const std::string_view text(data, size);
  constexpr std::string_view kStatus = "\"status\":";
  const size_t at = text.find(kStatus);
  if (at == std::string_view::npos) return 0;
  unsigned status = 0;
  const char* begin = text.data() + at + kStatus.size();
  std::from_chars(begin, text.data() + text.size(), status);
  return status;
}

}  // namespace

struct WsTarget::Connection {
  explicit Connection(net::io_context& io) : stream(io) {}
  websocket::stream<tcp::socket> stream;
  beast::flat_buffer buffer;
  std::deque<std::string> to_write;
  std::deque<Done> awaiting;  // in the order sent
  bool writing = false;
  bool broken = false;
};

WsTarget::WsTarget() = default;
WsTarget::~WsTarget() { close(); }

bool WsTarget::connect(const WsOptions& options, std::string& error) {
  options_ = options;
  const std::string host = options.server.host + ":" + std::to_string(options.server.port);
  try {
    tcp::resolver resolver(io_);
    const auto endpoints =
        resolver.resolve(options.server.host, std::to_string(options.server.port));
    for (size_t i = 0; i < options.connections; ++i) {
      auto connection = std::make_unique<Connection>(io_);
      net::connect(connection->stream.next_layer(), endpoints);
      connection->stream.next_layer().set_option(tcp::no_delay(true));
      const std::string authorization = "Bearer " + options.key;
      connection->stream.set_option(
          websocket::stream_base::decorator([authorization](websocket::request_type& request) {
            request.set(beast::http::field::authorization, authorization);
          }));
      connection->stream.handshake(host, "/v1/stream");
      connection->stream.binary(options.binary);
      connections_.push_back(std::move(connection));
    }
  } catch (const std::exception& problem) {
    error = host + ": " + problem.what();
    return false;
  }
  for (auto& connection : connections_) read_next(*connection);
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
  return true;
}

void WsTarget::submit(Event&& event, Done done) {
  std::string frame;
  const bool made = options_.binary ? ws_binary_frame(event, frame) : ws_text_frame(event, frame);
  if (!made) {
    done({false, "not streamable"});
    return;
  }
  Connection& connection = *connections_[next_connection_++ % connections_.size()];
  net::post(io_, [this, &connection, frame = std::move(frame), done = std::move(done)]() mutable {
    if (connection.broken) {
      done({false, "connection lost"});
      return;
    }
    connection.to_write.push_back(std::move(frame));
    connection.awaiting.push_back(std::move(done));
    if (!connection.writing) write_next(connection);
  });
}

void WsTarget::write_next(Connection& connection) {
  if (connection.to_write.empty() || connection.broken) {
    connection.writing = false;
    return;
  }
  connection.writing = true;
  connection.stream.async_write(net::buffer(connection.to_write.front()),
                                [this, &connection](beast::error_code error, size_t) {
                                  if (error) return fail(connection);
                                  connection.to_write.pop_front();
                                  write_next(connection);
                                });
}

void WsTarget::read_next(Connection& connection) {
  connection.stream.async_read(
      connection.buffer, [this, &connection](beast::error_code error, size_t) {
        if (error) return fail(connection);
        const unsigned status = result_status(connection.buffer, connection.stream.got_binary());
        connection.buffer.consume(connection.buffer.size());
        if (!connection.awaiting.empty()) {
          Done done = std::move(connection.awaiting.front());
          connection.awaiting.pop_front();
          Outcome outcome;
          outcome.ok = status >= 200 && status < 300;
          if (!outcome.ok)
            outcome.failure = status == 0 ? "bad result frame" : std::to_string(status);
          done(outcome);
        }
        read_next(connection);
      });
}

void WsTarget::fail(Connection& connection) {
  if (connection.broken) return;
  connection.broken = true;
  while (!connection.awaiting.empty()) {
    Done done = std::move(connection.awaiting.front());
    connection.awaiting.pop_front();
    done({false, "connection lost"});
  }
  connection.to_write.clear();
}

void WsTarget::close() {
  if (!thread_.joinable()) return;
  work_.reset();
  net::post(io_, [this] {
    for (auto& connection : connections_) {
      boost::system::error_code ignored;
      connection->broken = true;
      connection->stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
      connection->stream.next_layer().close(ignored);
    }
  });
  thread_.join();
}

}  // namespace loyalty::bench
