#include "webhooks/sender.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace loyalty::webhooks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// How much of an endpoint's answer is read: its status is what counts.
constexpr uint64_t kResponseBodyMax = 64 * 1024;

std::optional<int64_t> retry_after(std::string_view value) {
  int64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds < 0) {
    return std::nullopt;  // an HTTP date: the schedule decides instead
  }
  return seconds;
}

template <typename Stream>
asio::awaitable<void> exchange(Stream& stream, const Destination& d,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               std::string_view body, SendResult& out) {
  http::request<http::string_body> request{http::verb::post, d.target, 11};
  request.set(http::field::host, d.host);
  request.set(http::field::user_agent, "loyalty-engine-webhooks/1");
  request.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::string(body);
  request.prepare_payload();
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyMax);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  const auto& response = parser.get();
  out.status = response.result_int();
  if (const auto found = response.find(http::field::retry_after); found != response.end()) {
    out.retry_after_seconds = retry_after(found->value());
  }
}

}  // namespace

Sender::Sender(std::chrono::milliseconds timeout, bool allow_private)
    : timeout_(timeout), allow_private_(allow_private) {}

SendResult Sender::post(const Destination& d,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body) {
  SendResult out;
  const auto started = std::chrono::steady_clock::now();
  asio::io_context io;
  ssl::context tls(ssl::context::tls_client);
  auto run = [&]() -> asio::awaitable<void> {
    tcp::resolver resolver(io);
    const auto resolved = co_await resolver.async_resolve(d.host, d.port, asio::use_awaitable);
    std::vector<tcp::endpoint> addresses;
    for (const auto& entry : resolved) {
      if (!allow_private_ && is_private_address(entry.endpoint().address())) {
        out.error = "refused: " + d.host + " resolves to a private address (" +
                    entry.endpoint().address().to_string() + ")";
        co_return;
      }
      addresses.push_back(entry.endpoint());
    }
    if (!d.tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout_);
      co_await stream.async_connect(addresses, asio::use_awaitable);
      co_await exchange(stream, d, headers, body, out);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                    ssl::context::no_tlsv1_1);
    tls.set_default_verify_paths();
    tls.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    stream.set_verify_callback(ssl::host_name_verification(d.host));
    boost::system::error_code not_address;
    asio::ip::make_address(d.host, not_address);
    // Server Name Indication names hosts, never addresses (RFC 6066).
    if (not_address && SSL_set_tlsext_host_name(stream.native_handle(), d.host.c_str()) != 1) {
      out.error = "cannot set the TLS server name";
      co_return;
    }
    beast::get_lowest_layer(stream).expires_after(timeout_);
    co_await beast::get_lowest_layer(stream).async_connect(addresses, asio::use_awaitable);
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    co_await exchange(stream, d, headers, body, out);
  };
  asio::co_spawn(io, run(), [&out](std::exception_ptr failure) {
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
  out.duration_ms = static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - started)
                                              .count());
  if (out.status != 0) out.error.clear();
  return out;
}

}  // namespace loyalty::webhooks
