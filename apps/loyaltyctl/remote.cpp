// loyaltyctl's HTTP client: resolve, connect, (TLS handshake,) write, read, close, each bounded
// by the timeout.
#include "apps/loyaltyctl/remote.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <iostream>

#include "apps/loyaltyctl/common.hpp"

namespace loyalty::ctl {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// Responses of the jobs API are small; a recalculation's CSV report can be large.
constexpr uint64_t kResponseBytesMax = uint64_t{1} << 30;

bool is_ip_address(const std::string& host) {
  boost::system::error_code error;
  boost::asio::ip::make_address(host, error);
  return !error;
}

}  // namespace

Remote::Remote(bool tls, std::string host, std::string port, std::string key, std::string ca_file)
    : tls_(tls),
      ca_file_(std::move(ca_file)),
      host_(std::move(host)),
      port_(std::move(port)),
      key_(std::move(key)) {
  const bool v6 = host_.find(':') != std::string::npos;
  base_ =
      std::string(tls_ ? "https://" : "http://") + (v6 ? "[" + host_ + "]" : host_) + ":" + port_;
}

std::optional<Remote> remote_of(const Target& target) {
  std::string error;
  std::optional<Remote> remote =
      Remote::connect_to(target.server_url, target.key, target.ca_file, error);
  if (!remote) std::cerr << "loyaltyctl: " << error << "\n";
  return remote;
}

std::optional<Remote> Remote::connect_to(std::string_view url, std::string key, std::string ca_file,
                                         std::string& error) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    error = "--server must be a URL such as http://127.0.0.1:8080";
    return std::nullopt;
  }
  if (parsed->scheme() != "http" && parsed->scheme() != "https") {
    error = "--server: only http:// and https:// URLs are supported";
    return std::nullopt;
  }
  const bool tls = parsed->scheme() == "https";
  if (parsed->host().empty() || parsed->has_query() || parsed->has_fragment() ||
      parsed->has_userinfo() || !(parsed->path().empty() || parsed->path() == "/")) {
    error = "--server must be http(s)://HOST[:PORT], without a path";
    return std::nullopt;
  }
  if (key.empty()) {
    error = "--server needs --key KEY (an admin key)";
    return std::nullopt;
  }
  if (!ca_file.empty() && !tls) {
    error = "--cacert is for https:// servers";
    return std::nullopt;
  }
  std::string host = parsed->host_address();  // brackets of an IPv6 literal removed
  std::string port = parsed->has_port() ? std::string(parsed->port()) : (tls ? "443" : "80");
  return Remote(tls, std::move(host), std::move(port), std::move(key), std::move(ca_file));
}

bool Remote::request(std::string_view method, std::string_view target, std::string_view body,
                     std::string_view content_type, std::string_view accept, RemoteResponse& out,
                     std::string& error) const {
  boost::asio::io_context context;
  tcp::resolver resolver(context);
  beast::error_code code;
  const auto endpoints = resolver.resolve(host_, port_, code);
  if (code) {
    error = "cannot resolve " + host_ + ": " + code.message();
    return false;
  }
  if (!tls_) {
    beast::tcp_stream stream(context);
    stream.expires_after(timeout_);
    stream.connect(endpoints, code);
    if (code) {
      error = "cannot connect to " + base_ + ": " + code.message();
      return false;
    }
    const bool answered = exchange(stream, method, target, body, content_type, accept, out, error);
    stream.socket().shutdown(tcp::socket::shutdown_both, code);  // the server may have closed
    return answered;
  }

  ssl::context tls(ssl::context::tls_client);
  tls.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                  ssl::context::no_tlsv1_1);
  tls.set_default_verify_paths(code);
  if (!ca_file_.empty()) {
    tls.load_verify_file(ca_file_, code);
    if (code) {
      error = "--cacert " + ca_file_ + ": " + code.message();
      return false;
    }
  }
  tls.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(context, tls);
  stream.set_verify_callback(ssl::host_name_verification(host_));
  // Server Name Indication names hosts, never IP addresses (RFC 6066).
  if (!is_ip_address(host_) &&
      SSL_set_tlsext_host_name(stream.native_handle(), host_.c_str()) != 1) {
    error = "cannot set the TLS server name " + host_;
    return false;
  }
  beast::get_lowest_layer(stream).expires_after(timeout_);
  beast::get_lowest_layer(stream).connect(endpoints, code);
  if (code) {
    error = "cannot connect to " + base_ + ": " + code.message();
    return false;
  }
  stream.handshake(ssl::stream_base::client, code);
  if (code) {
    error = "TLS with " + base_ +
            " failed (is its certificate trusted? --cacert FILE): " + code.message();
    return false;
  }
  const bool answered = exchange(stream, method, target, body, content_type, accept, out, error);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  stream.shutdown(code);  // a server that just closes is fine: the answer is complete
  return answered;
}

template <class Stream>
bool Remote::exchange(Stream& stream, std::string_view method, std::string_view target,
                      std::string_view body, std::string_view content_type, std::string_view accept,
                      RemoteResponse& out, std::string& error) const {
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, host_);
  request.set(http::field::authorization, "Bearer " + key_);
  request.set(http::field::user_agent, "loyaltyctl");
  if (!accept.empty()) request.set(http::field::accept, accept);
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::string(body);
  request.prepare_payload();
  beast::error_code code;
  beast::get_lowest_layer(stream).expires_after(timeout_);
  http::write(stream, request, code);
  if (code) {
    error = "cannot send to " + base_ + ": " + code.message();
    return false;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBytesMax);
  beast::get_lowest_layer(stream).expires_after(timeout_);
  http::read(stream, buffer, parser, code);
  if (code) {
    error = "no answer from " + base_ + ": " + code.message();
    return false;
  }
  http::response<http::string_body> response = parser.release();
  out.status = response.result_int();
  out.content_type = std::string(response[http::field::content_type]);
  out.body = std::move(response.body());
  return true;
}

}  // namespace loyalty::ctl
