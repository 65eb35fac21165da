// One WebSocket connection of GET /v1/stream (after Beast's example/advanced/server and
// chat-multi): taken over from the HttpSession that read the upgrade request, on the same
// tcp_stream and strand. It subscribes to members' notification feeds (catch-up from the stored
// feed, then live pushes from the NotificationHub, with no gap and no duplicate) and streams POS
// events to the runtime, answering each in the order sent, as JSON text or FlatBuffers binary.
// Every message waits in one bounded write queue: past [limits] ws_backlog_max the client is
// sent a close frame saying why and is dropped. At shutdown every session is sent a close frame
// with 1001 (going away) once what it has queued is written.
// A template over the transport like HttpSession: PlainStream (ws://) or TlsStream (wss://).
// Its log lines carry the request id of the upgrade request.
// Thread-safety: a session runs on its own strand; deliver() and go_away() may be called from
// any thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>

#include "api/auth.hpp"
#include "api/event_intake.hpp"
#include "api/http_message.hpp"
#include "api/http_session.hpp"
#include "api/notification_hub.hpp"
#include "api/stream_registry.hpp"
#include "api/ws_protocol.hpp"

namespace loyalty::api {

// Whether `request` is for GET /v1/stream (any method, upgrade or not).
bool is_stream_target(const HttpRequest& request);

// The caller of a GET /v1/stream request: the Authorization header, else the `token` query
// parameter (browsers and mini-programs cannot set headers on a WebSocket). The response to
// send instead when the request is no WebSocket upgrade (426) or has no valid credential (401).
std::variant<Principal, HttpResponse> authenticate_stream(const KeyTable& keys,
                                                          const HttpRequest& request);

// Whether `principal` may subscribe to `member_id`: admin and app keys to any member, a member
// token only to its own member, pos keys to none (they stream events). Rejection::none() if so.
Rejection authorize_subscribe(const Principal& principal, std::string_view member_id);

template <class Stream>
class WsSession final : public NotificationSubscriber,
                        public StreamRegistry::Session,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, std::shared_ptr<ServerShared> shared, Principal principal,
            std::string request_id);
  ~WsSession() override;
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // Answers the upgrade request and starts reading, on the session's strand.
  void run(HttpRequest request);

  // NotificationSubscriber: posts the notification to the strand.
  void deliver(const std::string& member_id, const Notification& notification) override;

  // StreamRegistry::Session: posts the 1001 close to the strand.
  void go_away() override;

 private:
  using error_code = boost::beast::error_code;

  struct Outgoing {
    std::string data;
    bool binary = false;
  };

  struct Subscription {
    uint64_t last_sent_seq = 0;  // pushes with a seq at or below it are duplicates
    bool catching_up = false;    // reading the stored feed; live pushes wait in `buffered`
    std::deque<Notification> buffered;
  };

  void on_accept(error_code error);
  void do_read();
  void on_read(error_code error, size_t bytes);
  void handle_text(std::string_view text);
  void handle_binary(std::string_view bytes);

  void subscribe(ws::SubscribeOp&& op);
  void continue_catch_up();
  void on_notification(const std::string& member_id, const Notification& notification);

  void start_event(BatchItem&& item, bool binary);
  // The result for slot `slot` (events are numbered in the order received).
  void finish_event(uint64_t slot, Outgoing&& result);
  void flush_results();

  void enqueue(std::string data, bool binary);
  void do_write();
  void on_write(error_code error, size_t bytes);
  void drop_slow_consumer();
  // Shutdown: closes with 1001 once the queue is written (called again as it drains).
  void close_going_away();
  void unsubscribe_all();
  void on_close(error_code error);
  void end();

  boost::beast::websocket::stream<Stream> ws_;
  boost::beast::flat_buffer read_buffer_;
  boost::asio::steady_timer close_deadline_;
  std::shared_ptr<ServerShared> shared_;
  const Principal principal_;
  const std::string request_id_;  // of the upgrade request, for log lines
  HttpRequest upgrade_request_;   // kept until the accept completes

  std::deque<Outgoing> queue_;  // the front is being written while writing_
  bool writing_ = false;
  bool reading_ = false;
  bool closing_ = false;  // a close frame is going out (or the socket is gone): nothing more
  bool ended_ = false;
  bool accepted_ = false;    // the upgrade is answered: frames may be written
  bool going_away_ = false;  // shutdown: close with 1001 once the queue is written

  std::unordered_map<std::string, Subscription> subscriptions_;

  std::deque<std::optional<Outgoing>> results_;  // slots from first_result_slot_, in order
  uint64_t first_result_slot_ = 0;
  // Purchases of this socket not answered yet, by event id: a refund of one is queued behind it
  // in its member's partition (as in a batch) instead of finding no stored purchase.
  PurchasesInFlight purchases_in_flight_;
};

}  // namespace loyalty::api
