// The WebSocket session's steps: do_* starts an asynchronous step, on_* finishes it. Results of
// events come back from runtime writer threads and notifications from the hub; both are posted
// to the strand and only ever written from there.
#include "api/ws_session.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <utility>

#include "api/event_intake.hpp"
#include "api/feed_reads.hpp"
#include "api/handlers.hpp"
#include "api/handlers_events.hpp"
#include "api/log.hpp"
#include "api/metrics.hpp"
#include "api/problem.hpp"
#include "api/response_courier.hpp"
#include "api/tls.hpp"
#include "engine/check.hpp"

namespace loyalty::api {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using std::chrono::milliseconds;

namespace {

// The largest message a client may send (api.md: bodies ≤ 64 KiB); larger closes the socket
// with 1009 (message too big).
constexpr size_t kMessageBytesMax = 64 * 1024;
// Events read but not yet answered; past it the session stops reading until results go out,
// so a fast POS is slowed down rather than buffered.
constexpr size_t kEventsInFlightMax = 256;
// Members one connection may follow at once.
constexpr size_t kSubscriptionsMax = 64;
// Notifications read from the stored feed at a time while catching up.
constexpr size_t kCatchUpPageMax = 128;
// A fixed kernel send buffer: bounds what the kernel holds for a client that stops reading
// (autotuning would grow it to megabytes) and lets the write queue see the backlog soon.
constexpr int kSendBufferBytes = 128 * 1024;
// A dropped slow consumer has this long to read up to the close frame before the socket is cut.
constexpr std::chrono::seconds kCloseGrace{30};

std::string slow_consumer_reason(size_t backlog_max) {
  return "slow consumer: backlog over " + std::to_string(backlog_max);
}

}  // namespace

bool is_stream_target(const HttpRequest& request) {
  const auto target = boost::urls::parse_origin_form(request.target());
  return target && target->encoded_path() == "/v1/stream";
}

std::variant<Principal, HttpResponse> authenticate_stream(const KeyTable& keys,
                                                          const HttpRequest& request) {
  if (request.method() != http::verb::get) {
    HttpResponse response =
        problem_response_with_status(http::status::method_not_allowed, ErrorCode::invalid_request,
                                     "this method is not allowed here; allowed: GET");
    response.set(http::field::allow, "GET");
    return response;
  }
  if (!websocket::is_upgrade(request)) {
    HttpResponse response = problem_response_with_status(
        http::status::upgrade_required, ErrorCode::invalid_request,
        "GET /v1/stream is a WebSocket endpoint: send Connection: Upgrade, Upgrade: websocket");
    response.set(http::field::upgrade, "websocket");
    return response;
  }
  std::optional<Principal> principal;
  if (const auto it = request.find(http::field::authorization); it != request.end()) {
    principal = keys.authenticate(it->value());
  } else if (const auto target = boost::urls::parse_origin_form(request.target())) {
    const auto params = target->params();
    if (const auto token = params.find("token"); token != params.end() && (*token).has_value) {
      principal = keys.authenticate("Bearer " + std::string((*token).value));
    }
  }
  if (!principal) {
    return problem_response(ErrorCode::unauthorized,
                            "a valid API key or member token is required: Authorization: Bearer "
                            "<credential>, or ?token=<credential>");
  }
  return std::move(*principal);
}

Rejection authorize_subscribe(const Principal& principal, std::string_view member_id) {
  if (may_subscribe(principal, member_id)) return Rejection::none();
  if (principal.is_member_token()) {
    return {ErrorCode::forbidden, "member_id",
            "a member token may subscribe only to its own member"};
  }
  return {ErrorCode::forbidden, "member_id",
          "this key may not subscribe to members (" + std::string(role_name(principal.role)) +
              " keys stream events)"};
}

template <class Stream>
WsSession<Stream>::WsSession(Stream&& stream, std::shared_ptr<ServerShared> shared,
                             Principal principal, std::string request_id)
    : ws_(std::move(stream)),
      close_deadline_(ws_.get_executor()),
      shared_(std::move(shared)),
      principal_(std::move(principal)),
      request_id_(std::move(request_id)) {
  shared_->connections.fetch_add(1, std::memory_order_relaxed);
  metrics().ws_connection_opened();
}

template <class Stream>
WsSession<Stream>::~WsSession() {
  if (NotificationHub* hub = shared_->context.hub) {
    for (const auto& [member_id, subscription] : subscriptions_) hub->unsubscribe(member_id, this);
  }
  shared_->streams.remove(this);
  metrics().ws_connection_closed();
  shared_->connections.fetch_sub(1, std::memory_order_relaxed);
}

template <class Stream>
void WsSession<Stream>::run(HttpRequest request) {
  upgrade_request_ = std::move(request);
  shared_->streams.add(this->shared_from_this());
  net::dispatch(ws_.get_executor(), [self = this->shared_from_this()] {
    // The websocket stream keeps its own timers; the HTTP deadline must not cut it.
    beast::get_lowest_layer(self->ws_).expires_never();
    error_code ignored;
    beast::get_lowest_layer(self->ws_).socket().set_option(
        net::socket_base::send_buffer_size(kSendBufferBytes), ignored);
    websocket::stream_base::timeout timeouts =
        websocket::stream_base::timeout::suggested(beast::role_type::server);
    // A ping after half the idle time; no answer (or nothing at all) within it closes.
    timeouts.idle_timeout = milliseconds(self->shared_->limits.idle_timeout_ms);
    timeouts.keep_alive_pings = true;
    self->ws_.set_option(timeouts);
    self->ws_.read_message_max(kMessageBytesMax);
    self->ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "loyaltyd"); }));
    self->ws_.async_accept(self->upgrade_request_,
                           beast::bind_front_handler(&WsSession<Stream>::on_accept, self));
  });
}

template <class Stream>
void WsSession<Stream>::on_accept(error_code error) {
  upgrade_request_ = {};
  if (error) return end();
  accepted_ = true;
  if (going_away_) return close_going_away();
  do_read();
}

template <class Stream>
void WsSession<Stream>::do_read() {
  if (reading_ || closing_ || results_.size() >= kEventsInFlightMax) return;
  reading_ = true;
  ws_.async_read(read_buffer_,
                 beast::bind_front_handler(&WsSession<Stream>::on_read, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_read(error_code error, size_t) {
  reading_ = false;
  if (error) return end();  // closed by the client, timed out, too big, or the server stops
  const RequestLogScope log_scope(request_id_);
  std::string message = beast::buffers_to_string(read_buffer_.data());
  read_buffer_.consume(read_buffer_.size());
  if (ws_.got_binary()) {
    handle_binary(message);
  } else {
    handle_text(message);
  }
  do_read();
}

template <class Stream>
void WsSession<Stream>::handle_text(std::string_view text) {
  ws::ClientMessage message = ws::parse_text_frame(text);
  if (auto* subscribe_op = std::get_if<ws::SubscribeOp>(&message)) {
    subscribe(std::move(*subscribe_op));
  } else if (auto* event = std::get_if<ws::EventOp>(&message)) {
    start_event(std::move(event->item), false);
  } else {
    enqueue(ws::error_text(std::get<ws::BadFrame>(message).problem), false);
  }
}

template <class Stream>
void WsSession<Stream>::handle_binary(std::string_view bytes) {
  start_event(ws::parse_binary_frame(bytes), true);
}

template <class Stream>
void WsSession<Stream>::subscribe(ws::SubscribeOp&& op) {
  const std::string& member_id = op.member_id;
  if (Rejection r = authorize_subscribe(principal_, member_id); !r.ok()) {
    return enqueue(ws::error_text(make_problem(r), member_id), false);
  }
  const bool known = subscriptions_.contains(member_id);
  if (!known && subscriptions_.size() >= kSubscriptionsMax) {
    return enqueue(ws::error_text(make_problem(ErrorCode::invalid_request,
                                               "one connection follows at most " +
                                                   std::to_string(kSubscriptionsMax) + " members",
                                               "member_id"),
                                  member_id),
                   false);
  }
  NotificationHub* hub = shared_->context.hub;
  if (hub == nullptr) {
    return enqueue(
        ws::error_text(make_problem(ErrorCode::unavailable, "notifications are not available"),
                       member_id),
        false);
  }
  // Registered before the latest seq is read: a notification committed in between is either
  // in the store when it is read or pushed afterwards (and then a duplicate, dropped by seq).
  hub->subscribe(member_id, this->shared_from_this());
  std::optional<uint64_t> newest;
  Status status;
  if (FeedReads* feed = shared_->context.feed) {
    status = feed->latest_seq(member_id, newest);
  } else {
    std::optional<MemberState> member;
    status = shared_->context.store->load_member(member_id, member);
    if (member) newest = member->next_notification_seq - 1;
  }
  if (!status.ok() || !newest) {
    if (!known) hub->unsubscribe(member_id, this);
    const Problem problem =
        !status.ok() ? storage_problem(status, "subscribe")
                     : make_problem(ErrorCode::not_found, "no member with this id", "member_id");
    return enqueue(ws::error_text(problem, member_id), false);
  }
  const uint64_t latest = *newest;
  Subscription& subscription = subscriptions_[member_id];
  subscription = Subscription{};
  subscription.last_sent_seq = latest;
  if (op.after_seq && *op.after_seq < latest) {
    subscription.last_sent_seq = *op.after_seq;
    subscription.catching_up = true;
  }
  enqueue(ws::subscribed_text(member_id, latest), false);
  continue_catch_up();
}

template <class Stream>
void WsSession<Stream>::continue_catch_up() {
  const size_t backlog_max = shared_->limits.ws_backlog_max;
  const size_t page = std::max<size_t>(1, std::min(kCatchUpPageMax, backlog_max / 2));
  for (auto& [member_id, subscription] : subscriptions_) {
    while (subscription.catching_up && !closing_ && queue_.size() + page <= backlog_max) {
      std::vector<Notification> found;
      FeedReads* feed = shared_->context.feed;
      const Status status =
          feed != nullptr ? feed->notifications(member_id, subscription.last_sent_seq, page, found)
                          : shared_->context.store->read_notifications(
                                member_id, subscription.last_sent_seq, page, found);
      if (!status.ok()) {
        // Told, then carried on live: the client may subscribe again with its after_seq.
        enqueue(ws::error_text(storage_problem(status, "catch-up"), member_id), false);
        found.clear();
      }
      for (const Notification& notification : found) {
        if (notification.seq <= subscription.last_sent_seq) continue;
        subscription.last_sent_seq = notification.seq;
        enqueue(ws::push_text(member_id, notification), false);
      }
      if (found.size() < page) {  // the stored feed is read: the buffered live pushes follow
        subscription.catching_up = false;
        // Taken out first: enqueue may drop the session, which clears every buffer.
        const std::deque<Notification> buffered = std::exchange(subscription.buffered, {});
        for (const Notification& notification : buffered) {
          if (notification.seq <= subscription.last_sent_seq) continue;
          subscription.last_sent_seq = notification.seq;
          enqueue(ws::push_text(member_id, notification), false);
        }
      }
    }
  }
}

template <class Stream>
void WsSession<Stream>::deliver(const std::string& member_id, const Notification& notification) {
  net::post(ws_.get_executor(), [self = this->shared_from_this(), member_id, notification] {
    self->on_notification(member_id, notification);
  });
}

template <class Stream>
void WsSession<Stream>::on_notification(const std::string& member_id,
                                        const Notification& notification) {
  if (closing_) return;
  const auto it = subscriptions_.find(member_id);
  if (it == subscriptions_.end()) return;
  Subscription& subscription = it->second;
  if (notification.seq <= subscription.last_sent_seq) return;  // caught up on it already
  if (subscription.catching_up) {
    if (subscription.buffered.size() >= shared_->limits.ws_backlog_max) {
      return drop_slow_consumer();
    }
    subscription.buffered.push_back(notification);
    return;
  }
  subscription.last_sent_seq = notification.seq;
  enqueue(ws::push_text(member_id, notification), false);
}

template <class Stream>
void WsSession<Stream>::start_event(BatchItem&& item, bool binary) {
  const uint64_t slot = first_result_slot_ + results_.size();
  results_.emplace_back();
  const std::optional<std::string> event_id = item.event_id;
  const auto render = [binary](const std::string* id, const Reply& reply) {
    return Outgoing{binary ? ws::result_binary(id, reply) : ws::result_text(id, reply), binary};
  };
  const auto answer_now = [&](const Reply& reply) {
    finish_event(slot, render(event_id ? &*event_id : nullptr, reply));
  };
  if (const ParseError* error = std::get_if<ParseError>(&item.parsed)) {
    return answer_now(error->to_problem());
  }
  ClientEvent event = std::holds_alternative<PurchaseEvent>(item.parsed)
                          ? ClientEvent{std::move(std::get<PurchaseEvent>(item.parsed))}
                          : ClientEvent{std::move(std::get<RefundEvent>(item.parsed))};
  const bool purchase = std::holds_alternative<PurchaseEvent>(event);
  submit_client_event(
      shared_->context, principal_, std::move(event), &purchases_in_flight_,
      [self = this->shared_from_this(), slot, event_id, purchase, render](Reply&& reply) mutable {
        auto finish = [self, slot, event_id = std::move(event_id), purchase, render,
                       reply = std::move(reply)]() mutable {
          const RequestLogScope log_scope(self->request_id_);
          // Answered: a refund of it now finds the purchase stored.
          if (purchase && event_id) self->purchases_in_flight_.erase(*event_id);
          self->finish_event(slot, render(event_id ? &*event_id : nullptr, reply));
        };
        // From a writer thread, or at once (refused before submission): back on the strand.
        response_courier::send(self->ws_.get_executor(), std::move(finish));
      });
}

template <class Stream>
void WsSession<Stream>::finish_event(uint64_t slot, Outgoing&& result) {
  if (closing_) return;
  LOYALTY_CHECK(slot >= first_result_slot_ && slot - first_result_slot_ < results_.size());
  results_[slot - first_result_slot_] = std::move(result);
  flush_results();
}

template <class Stream>
void WsSession<Stream>::flush_results() {
  while (!results_.empty() && results_.front()) {
    Outgoing result = std::move(*results_.front());
    results_.pop_front();
    ++first_result_slot_;
    enqueue(std::move(result.data), result.binary);
  }
  do_read();  // reading may have paused for too many events in flight
}

template <class Stream>
void WsSession<Stream>::enqueue(std::string data, bool binary) {
  if (closing_) return;
  if (queue_.size() >= shared_->limits.ws_backlog_max) return drop_slow_consumer();
  queue_.push_back(Outgoing{std::move(data), binary});
  if (!writing_) do_write();
}

template <class Stream>
void WsSession<Stream>::do_write() {
  writing_ = true;
  ws_.binary(queue_.front().binary);
  ws_.async_write(
      net::buffer(queue_.front().data),
      beast::bind_front_handler(&WsSession<Stream>::on_write, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::on_write(error_code error, size_t) {
  writing_ = false;
  if (error) return end();
  const RequestLogScope log_scope(request_id_);
  queue_.pop_front();
  if (closing_) {
    queue_.clear();
    return;
  }
  if (!queue_.empty()) do_write();
  continue_catch_up();
  close_going_away();
}

template <class Stream>
void WsSession<Stream>::drop_slow_consumer() {
  if (closing_) return;
  closing_ = true;
  metrics().ws_slow_consumer_dropped();
  const RequestLogScope log_scope(request_id_);
  log_line("websocket: dropped a slow consumer (" + principal_.name + "): backlog over " +
               std::to_string(shared_->limits.ws_backlog_max),
           LogLevel::warn);
  // Everything waiting goes at once, but the message being written (its bytes are in use).
  queue_.erase(writing_ ? queue_.begin() + 1 : queue_.begin(), queue_.end());
  results_.clear();
  unsubscribe_all();
  close_deadline_.expires_after(kCloseGrace);
  close_deadline_.async_wait([self = this->shared_from_this()](error_code error) {
    if (!error) beast::get_lowest_layer(self->ws_).close();  // never read up to the close frame
  });
  // Sent once the message being written is out (Beast queues the close behind it).
  ws_.async_close(
      websocket::close_reason(websocket::close_code::policy_error,
                              slow_consumer_reason(shared_->limits.ws_backlog_max)),
      beast::bind_front_handler(&WsSession<Stream>::on_close, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::go_away() {
  net::post(ws_.get_executor(), [self = this->shared_from_this()] {
    self->going_away_ = true;
    self->close_going_away();
  });
}

template <class Stream>
void WsSession<Stream>::close_going_away() {
  // Before the upgrade is answered on_accept comes back here; what is queued (results of events
  // the runtime finished while draining, pushes) goes out first, then the close frame.
  if (!going_away_ || !accepted_ || closing_ || writing_ || !queue_.empty()) return;
  closing_ = true;
  results_.clear();
  unsubscribe_all();
  close_deadline_.expires_after(kCloseGrace);
  close_deadline_.async_wait([self = this->shared_from_this()](error_code error) {
    if (!error) beast::get_lowest_layer(self->ws_).close();  // the client never answered
  });
  ws_.async_close(
      websocket::close_reason(websocket::close_code::going_away, "server shutting down"),
      beast::bind_front_handler(&WsSession<Stream>::on_close, this->shared_from_this()));
}

template <class Stream>
void WsSession<Stream>::unsubscribe_all() {
  NotificationHub* hub = shared_->context.hub;
  for (auto& [member_id, subscription] : subscriptions_) {
    subscription.buffered.clear();
    if (hub != nullptr) hub->unsubscribe(member_id, this);
  }
}

template <class Stream>
void WsSession<Stream>::on_close(error_code) {
  // The close handshake is over (or failed): Beast has torn the connection down.
  end();
}

template <class Stream>
void WsSession<Stream>::end() {
  if (ended_) return;
  ended_ = true;
  closing_ = true;
  close_deadline_.cancel();
  if (!writing_) queue_.clear();
  results_.clear();
  unsubscribe_all();
}

template class WsSession<PlainStream>;
template class WsSession<TlsStream>;

}  // namespace loyalty::api
