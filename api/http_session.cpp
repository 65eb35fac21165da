// The per-connection HTTP state machine: do_* starts an asynchronous step, on_* finishes it.
#include "api/http_session.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <random>

#include "api/log.hpp"
#include "api/metrics.hpp"
#include "api/problem.hpp"
#include "api/response_courier.hpp"
#include "api/tls.hpp"
#include "api/ws_session.hpp"
#include "engine/check.hpp"

namespace loyalty::api {
namespace net = boost::asio;
namespace beast = boost::beast;
using std::chrono::milliseconds;

namespace {

constexpr size_t kReadChunk = 4096;
constexpr size_t kRequestIdLengthMax = 128;

// A client's X-Request-Id is echoed when it is short and plain; otherwise one is made up.
bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > kRequestIdLengthMax) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < id.size(); i += 16) {
    uint64_t bits = generator();
    for (size_t j = 0; j < 16; ++j, bits >>= 4) id[i + j] = kHex[bits & 0xf];
  }
  return id;
}

std::string request_id_of(std::string_view header) {
  return sane_request_id(header) ? std::string(header) : new_request_id();
}

// The batch endpoint carries up to 1,000 events and has its own, larger body limit. Matched on
// the raw target: a percent-encoded spelling just keeps the ordinary limit.
bool is_batch_target(std::string_view target) {
  constexpr std::string_view kBatchPath = "/v1/events:batch";
  return target.starts_with(kBatchPath) &&
         (target.size() == kBatchPath.size() || target[kBatchPath.size()] == '?');
}

template <class Stream>
Stream make_stream(net::ip::tcp::socket&& socket, ServerShared& shared) {
  if constexpr (std::is_same_v<Stream, PlainStream>) {
    return Stream(std::move(socket));
  } else {
    LOYALTY_CHECK(shared.tls != nullptr);  // the listener makes TLS sessions only with [tls]
    return Stream(std::move(socket), *shared.tls);
  }
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(net::ip::tcp::socket&& socket,
                                 std::shared_ptr<ServerShared> shared)
    : stream_(make_stream<Stream>(std::move(socket), *shared)),
      // Bounds what one connection can make the server buffer, pipelined requests included.
      buffer_(shared->limits.header_bytes_max + shared->limits.body_bytes_max + kReadChunk),
      shared_(std::move(shared)) {
  shared_->connections.fetch_add(1, std::memory_order_relaxed);
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  if (in_flight_) shared_->requests_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  shared_->connections.fetch_sub(1, std::memory_order_relaxed);
}

template <class Stream>
void HttpSession<Stream>::run() {
  if constexpr (kTls) {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      // The handshake counts as the start of the first request: a client that trickles it
      // holds the connection no longer than one that trickles its headers.
      beast::get_lowest_layer(self->stream_)
          .expires_after(milliseconds(self->shared_->limits.header_timeout_ms));
      self->stream_.async_handshake(
          net::ssl::stream_base::server,
          beast::bind_front_handler(&HttpSession<Stream>::on_handshake, self));
    });
  } else {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession<Stream>::do_read,
                                                                    this->shared_from_this()));
  }
}

template <class Stream>
void HttpSession<Stream>::on_handshake(error_code error) {
  // Plain HTTP sent to the TLS port, a client that distrusts the certificate, a timeout: there
  // is no channel to answer on, so the connection just closes.
  if (error) return;
  do_read();
}

template <class Stream>
size_t HttpSession<Stream>::body_limit_for(std::string_view target) const {
  return is_batch_target(target) ? shared_->limits.batch_body_bytes_max
                                 : shared_->limits.body_bytes_max;
}

template <class Stream>
void HttpSession<Stream>::do_read() {
  parser_.emplace();
  // The parser checks a Content-Length against its limit as soon as the header is complete,
  // before on_read_header can tell a batch from other requests: it starts with the larger of
  // the two limits and on_read_header applies the request's own.
  parser_->body_limit(
      std::max(shared_->limits.body_bytes_max, shared_->limits.batch_body_bytes_max));
  parser_->header_limit(static_cast<uint32_t>(shared_->limits.header_bytes_max));
  if (first_request_ || buffer_.size() > 0) {
    do_read_header();
    return;
  }
  // Between requests: wait at most idle_timeout for the first byte of the next one.
  beast::get_lowest_layer(stream_).expires_after(milliseconds(shared_->limits.idle_timeout_ms));
  stream_.async_read_some(
      buffer_.prepare(kReadChunk),
      beast::bind_front_handler(&HttpSession<Stream>::on_idle_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_idle_read(error_code error, size_t bytes) {
  if (error) return;  // closed by the client, idle too long, or the server is stopping
  buffer_.commit(bytes);
  do_read_header();
}

template <class Stream>
void HttpSession<Stream>::do_read_header() {
  // One deadline for the whole request (headers, a 100 Continue, the body): a slow sender
  // cannot hold a connection for longer than header_timeout per request.
  beast::get_lowest_layer(stream_).expires_after(milliseconds(shared_->limits.header_timeout_ms));
  http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession<Stream>::on_read_header, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read_header(error_code error, size_t) {
  if (error) return on_read_error(error);
  const auto& header = parser_->get();
  const size_t body_limit = body_limit_for(header.target());
  if (const auto length = parser_->content_length(); length && *length > body_limit) {
    return on_read_error(http::error::body_limit);
  }
  parser_->body_limit(body_limit);  // counted down as chunks arrive
  if (beast::iequals(header[http::field::expect], "100-continue")) {
    continue_ = http::response<http::empty_body>{http::status::continue_, header.version()};
    http::async_write(stream_, continue_,
                      beast::bind_front_handler(&HttpSession<Stream>::on_continue_written,
                                                this->shared_from_this()));
    return;
  }
  on_continue_written({}, 0);
}

template <class Stream>
void HttpSession<Stream>::on_continue_written(error_code error, size_t) {
  if (error) return;
  http::async_read(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession<Stream>::on_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_read(error_code error, size_t) {
  if (error) return on_read_error(error);
  handle_request();
}

template <class Stream>
void HttpSession<Stream>::on_read_error(error_code error) {
  if (error == http::error::end_of_stream) return do_close();
  if (error == http::error::body_limit || error == http::error::buffer_overflow) {
    // The target is known once the request line was read (also when the header then failed).
    const size_t body_limit =
        parser_ ? body_limit_for(parser_->get().target()) : shared_->limits.body_bytes_max;
    return send_error(
        problem_response(ErrorCode::payload_too_large,
                         "the body is larger than " + std::to_string(body_limit) + " bytes"));
  }
  if (error == http::error::header_limit) {
    return send_error(problem_response_with_status(
        http::status::request_header_fields_too_large, ErrorCode::payload_too_large,
        "the request line and headers are larger than " +
            std::to_string(shared_->limits.header_bytes_max) + " bytes"));
  }
  if (error.category() == beast::http::make_error_code(http::error::bad_method).category()) {
    return send_error(
        problem_response(ErrorCode::invalid_request, "the request is not valid HTTP/1.1"));
  }
  // Timeouts, resets and cancellation: nothing useful can be sent; the stream is closed.
}

template <class Stream>
void HttpSession<Stream>::begin_request() {
  if (!in_flight_) shared_->requests_in_flight.fetch_add(1, std::memory_order_acq_rel);
  in_flight_ = true;
}

template <class Stream>
void HttpSession<Stream>::end_request() {
  if (in_flight_) shared_->requests_in_flight.fetch_sub(1, std::memory_order_acq_rel);
  in_flight_ = false;
}

template <class Stream>
void HttpSession<Stream>::send_error(HttpResponse&& response) {
  begin_request();
  observation_.begin_unrouted();
  request_keep_alive_ = false;  // the rest of the stream cannot be trusted
  request_started_ = std::chrono::steady_clock::now();
  request_method_ = parser_ ? std::string(parser_->get().method_string()) : std::string();
  request_route_ = parser_ ? route_template(parser_->get().target()).value_or("unmatched")
                           : std::string_view("unmatched");
  request_principal_.clear();
  request_member_.clear();
  if (parser_ && parser_->is_header_done()) {
    request_version_ = parser_->get().version();
    request_id_ = request_id_of(parser_->get()["X-Request-Id"]);
    request_origin_ = parser_->get()[http::field::origin];
  } else {
    request_id_ = new_request_id();
    request_origin_.clear();
  }
  send(std::move(response));
}

template <class Stream>
void HttpSession<Stream>::handle_request() {
  begin_request();
  HttpRequest request = parser_->release();
  observation_.begin(request.method(), request.target());
  request_version_ = request.version();
  request_keep_alive_ = request.keep_alive();
  request_id_ = request_id_of(request["X-Request-Id"]);
  request_origin_ = request[http::field::origin];
  request_started_ = std::chrono::steady_clock::now();
  request_method_ = std::string(request.method_string());
  request_route_ = route_template(request.target()).value_or("unmatched");
  request_principal_.clear();
  request_member_.clear();
  const RequestLogScope log_scope(request_id_);
  // A browser's preflight carries no credentials: answered before anything asks for them.
  if (std::optional<HttpResponse> preflight = shared_->cors.preflight(request)) {
    return send(std::move(*preflight));
  }
  // GET /v1/stream: a WebSocket upgrade takes the connection over (api/ws_session.hpp).
  if (is_stream_target(request)) {
    auto caller = authenticate_stream(shared_->keys, request);
    if (HttpResponse* refusal = std::get_if<HttpResponse>(&caller)) {
      return send(std::move(*refusal));
    }
    const Principal& subscriber = std::get<Principal>(caller);
    request_principal_ = subscriber.name;
    request_member_ = subscriber.member_scope.value_or("");
    if (const RateDecision decision = shared_->rate_limiter.take_for(subscriber);
        !decision.allowed) {
      return send(rate_limited_response(decision.retry_after_s));
    }
    if (shared_->draining.load(std::memory_order_acquire)) {
      // Shutdown has already told the open sockets to go away; a new one would be cut off.
      return send(problem_response(ErrorCode::unavailable, "the server is shutting down"));
    }
    log_request({request_id_, request_method_, request_route_,
                 static_cast<unsigned>(http::status::switching_protocols),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                           request_started_)
                     .count(),
                 request_principal_, request_member_});
    observation_.finish(static_cast<unsigned>(http::status::switching_protocols));
    end_request();
    std::make_shared<WsSession<Stream>>(std::move(stream_), shared_,
                                        std::move(std::get<Principal>(caller)), request_id_)
        ->run(std::move(request));
    return;
  }

  std::optional<Principal> principal;
  if (const auto it = request.find(http::field::authorization); it != request.end()) {
    principal = shared_->keys.authenticate(it->value());
  }
  request_principal_ = principal ? principal->name : std::string();
  request_member_ = principal ? principal->member_scope.value_or("") : std::string();
  if (principal) {
    if (const RateDecision decision = shared_->rate_limiter.take_for(*principal);
        !decision.allowed) {
      send(rate_limited_response(decision.retry_after_s));
      return;
    }
  }

  // The backstop: a handler that throws (memory exhaustion, a bug) costs one 503, not the
  // process. Handlers report expected failures as values.
  const auto fail = [this](const char* what) {
    log_event(LogLevel::error, "request failed", {{"request_id", request_id_}, {"error", what}});
    return problem_response(ErrorCode::unavailable, "the server could not complete the request");
  };
  RouteResult result;
  try {
    result = route(shared_->context, request, principal);
  } catch (const std::exception& exception) {
    result = fail(exception.what());
  }
  if (HttpResponse* response = std::get_if<HttpResponse>(&result)) {
    send(std::move(*response));
    return;
  }
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Respond respond = [self = this->shared_from_this(), answered](HttpResponse&& response) {
    answered->store(true);
    // Called on a runtime writer thread: hand the response to the session's strand, with the
    // rest of the batch's answers (api/response_courier.hpp).
    response_courier::send(
        self->stream_.get_executor(),
        [self, response = std::move(response)]() mutable { self->send(std::move(response)); });
  };
  try {
    std::get<Deferred>(result).start(std::move(respond));
  } catch (const std::exception& exception) {
    if (!answered->load()) send(fail(exception.what()));
  }
}

template <class Stream>
void HttpSession<Stream>::send(HttpResponse&& response) {
  const bool keep_alive = request_keep_alive_ && !shared_->draining.load(std::memory_order_acquire);
  response.version(request_version_);
  response.keep_alive(keep_alive);
  response.set("X-Request-Id", request_id_);
  shared_->cors.allow_reading(request_origin_, response);
  response.prepare_payload();
  observation_.finish(response.result_int());
  const std::chrono::duration<double, std::milli> duration =
      std::chrono::steady_clock::now() - request_started_;
  log_request({request_id_, request_method_, request_route_, response.result_int(),
               duration.count(), request_principal_, request_member_});
  response_ = std::move(response);
  beast::get_lowest_layer(stream_).expires_after(milliseconds(shared_->limits.idle_timeout_ms));
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&HttpSession<Stream>::on_write,
                                              this->shared_from_this(), keep_alive));
}

template <class Stream>
void HttpSession<Stream>::on_write(bool keep_alive, error_code error, size_t) {
  end_request();
  response_ = {};
  if (error) return;
  if (!keep_alive) return do_close();
  first_request_ = false;
  do_read();
}

template <class Stream>
void HttpSession<Stream>::do_close() {
  if constexpr (kTls) {
    // close_notify, then the peer's (or EOF); bounded like any other step.
    beast::get_lowest_layer(stream_).expires_after(milliseconds(shared_->limits.header_timeout_ms));
    stream_.async_shutdown(
        beast::bind_front_handler(&HttpSession<Stream>::on_shutdown, this->shared_from_this()));
  } else {
    error_code ignored;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  }
}

template <class Stream>
void HttpSession<Stream>::on_shutdown(error_code) {
  // Whatever the peer did, the connection is finished; the socket closes with the session.
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace loyalty::api
