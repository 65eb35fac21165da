#include "webhooks/sender.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <map>

namespace loyalty::webhooks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// How much of an endpoint's answer is read: its status is what counts.
constexpr uint64_t kResponseBodyMax = 64 * 1024;
// Destinations with a connection kept at once (one thread serves a share of the endpoints).
constexpr size_t kKeptMax = 16;

std::optional<int64_t> retry_after(std::string_view value) {
  int64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds < 0) {
    return std::nullopt;  // an HTTP date: the schedule decides instead
  }
  return seconds;
}

// One connection to a destination: plain or TLS.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  Clock::time_point last_used;

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
};

// Whether a kept connection failed before the endpoint could have answered: it closed the
// connection while it was kept (the write fails, or the read finds its end or a reset before
// any byte of an answer). Sending again on a new one is then safe to do at once.
bool closed_while_kept(const boost::system::error_code& error, bool answer_began) {
  if (answer_began) return false;
  return error == http::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset || error == asio::error::broken_pipe ||
         error == asio::error::connection_aborted;
}

// Writes the request and reads the answer; `keep` tells whether the connection may carry the
// next one (the endpoint did not ask to close it, and the answer's end was not the
// connection's). `stale`: it failed as a connection the endpoint closed fails.
template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, const Destination& d,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view body, SendResult& out, bool& keep, bool& stale) {
  http::request<http::string_body> request{http::verb::post, d.target, 11};
  request.set(http::field::host, d.host);
  request.set(http::field::user_agent, "loyalty-engine-webhooks/1");
  request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::string(body);
  request.keep_alive(true);
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyMax);
  try {
    co_await http::async_write(stream, request, asio::use_awaitable);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    stale = closed_while_kept(e.code(), parser.got_some());
    throw;
  }
  const auto& response = parser.get();
  out.status = response.result_int();
  if (const auto found = response.find(http::field::retry_after); found != response.end()) {
    out.retry_after_seconds = retry_after(found->value());
  }
  keep = parser.keep_alive() && buffer.size() == 0;  // nothing unasked-for follows it
}

std::string destination_key(const Destination& d) {
  return (d.tls ? "https://" : "http://") + d.host + ":" + d.port;
}

}  // namespace

struct Sender::Impl {
  std::chrono::milliseconds timeout;
  bool allow_private;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_client};
  std::map<std::string, Connection> kept;  // by destination_key

  // Runs `step` on the I/O context to its end; an exception becomes `out.error`.
  template <typename Step>
  void run(Step step, SendResult& out) {
    io.restart();
    asio::co_spawn(io, std::move(step), [&out](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        out.error = e.code() == beast::error::timeout ? "timed out" : e.code().message();
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    });
    io.run();
  }

  // A new connection to `d` (its addresses checked), in `connection`.
  asio::awaitable<void> open(const Destination& d, Connection& connection, SendResult& out) {
    tcp::resolver resolver(io);
    const auto resolved = co_await resolver.async_resolve(d.host, d.port, asio::use_awaitable);
    std::vector<tcp::endpoint> addresses;
    for (const auto& entry : resolved) {
      if (!allow_private && is_private_address(entry.endpoint().address())) {
        out.error = "refused: " + d.host + " resolves to a private address (" +
                    entry.endpoint().address().to_string() + ")";
        co_return;
      }
      addresses.push_back(entry.endpoint());
    }
    if (!d.tls) {
      connection.plain = std::make_unique<beast::tcp_stream>(io);
      connection.plain->expires_after(timeout);
      co_await connection.plain->async_connect(addresses, asio::use_awaitable);
      co_return;
    }
    connection.secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls);
    auto& stream = *connection.secure;
    stream.set_verify_callback(ssl::host_name_verification(d.host));
    boost::system::error_code not_address;
    asio::ip::make_address(d.host, not_address);
    // Server Name Indication names hosts, never addresses (RFC 6066).
    if (not_address && SSL_set_tlsext_host_name(stream.native_handle(), d.host.c_str()) != 1) {
      out.error = "cannot set the TLS server name";
      connection.secure.reset();
      co_return;
    }
    beast::get_lowest_layer(stream).expires_after(timeout);
    co_await beast::get_lowest_layer(stream).async_connect(addresses, asio::use_awaitable);
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  }

  asio::awaitable<void> open_and_send(
      Connection& connection, const Destination& d,
      const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
      SendResult& out, bool& keep) {
    co_await open(d, connection, out);
    if (!out.error.empty()) co_return;
    bool stale = false;  // a new connection: whatever fails is the attempt's failure
    co_await send(connection, d, headers, body, out, keep, stale);
  }

  asio::awaitable<void> send(Connection& connection, const Destination& d,
                             const std::vector<std::pair<std::string, std::string>>& headers,
                             std::string_view body, SendResult& out, bool& keep, bool& stale) {
    connection.lowest().expires_after(timeout);
    if (connection.plain) {
      co_await exchange(*connection.plain, d, headers, body, out, keep, stale);
    } else {
      co_await exchange(*connection.secure, d, headers, body, out, keep, stale);
    }
  }
};

Sender::Sender(std::chrono::milliseconds timeout, bool allow_private)
    : impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
  impl_->allow_private = allow_private;
  impl_->tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
  impl_->tls.set_default_verify_paths();
  impl_->tls.set_verify_mode(ssl::verify_peer);
}

Sender::~Sender() = default;

SendResult Sender::post(const Destination& d,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body) {
  SendResult out;
  const auto started = Clock::now();
  const std::string key = destination_key(d);
  // Connections unused for too long are closed (the endpoint may have closed them already).
  std::erase_if(impl_->kept, [now = started](const auto& entry) {
    return now - entry.second.last_used > kIdleMax;
  });
  bool keep = false;
  if (auto found = impl_->kept.find(key); found != impl_->kept.end()) {
    Connection connection = std::move(found->second);
    impl_->kept.erase(found);
    bool stale = false;
    impl_->run(impl_->send(connection, d, headers, body, out, keep, stale), out);
    if (out.status != 0) {
      out.reused_connection = true;
      if (keep) {
        connection.last_used = Clock::now();
        impl_->kept.emplace(key, std::move(connection));
      }
    } else if (stale) {
      // Closed by the endpoint while it was kept, before it could answer: a new connection,
      // once. (Any other failure, a timeout or half an answer, is the attempt's.)
      out = SendResult{};
    }
  }
  if (out.status == 0 && out.error.empty()) {
    Connection connection;
    impl_->run(impl_->open_and_send(connection, d, headers, body, out, keep), out);
    if (out.status != 0 && keep) {
      if (impl_->kept.size() >= kKeptMax) {
        // The one unused longest goes.
        auto oldest = impl_->kept.begin();
        for (auto it = impl_->kept.begin(); it != impl_->kept.end(); ++it) {
          if (it->second.last_used < oldest->second.last_used) oldest = it;
        }
        impl_->kept.erase(oldest);
      }
      connection.last_used = Clock::now();
      impl_->kept.emplace(key, std::move(connection));
    }
  }
  out.duration_ms = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  if (out.status != 0) out.error.clear();
  return out;
}

}  // namespace loyalty::webhooks
