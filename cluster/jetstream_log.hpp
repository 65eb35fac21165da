// The cluster's replicated, ordered input log: one JetStream stream whose subjects are the
// partitions ("<name>.p.<partition>"), through the NATS C client. A message's stream sequence
// is its place in its partition's order; `Nats-Msg-Id` (from the client's id) lets JetStream
// drop a retry's copy inside its duplicate window, and the engine's idempotency records drop
// any copy after it. A publish acknowledgement is never a durability point (cluster.md): the
// owner's RocksDB commit is.
// Thread-safety: publish() and last_sequence() from any thread; a Reader from one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/status.hpp"

struct __natsConnection;
struct __jsCtx;
struct __natsSubscription;
struct natsMsgList;
struct __natsMsg;

namespace loyalty::cluster {

struct LogOptions {
  std::vector<std::string> urls;
  std::string stream;    // the stream's name
  std::string subjects;  // what it captures, e.g. "loyalty.p.>"
  uint32_t replicas = 3;
  std::string client_name;                  // shows in the servers' connection lists
  std::chrono::milliseconds timeout{5000};  // per request to the servers
  // How long JetStream remembers a Nats-Msg-Id to drop a second copy (its default is 2 min).
  std::chrono::seconds duplicate_window{120};
};

struct LogMessage {
  uint64_t sequence = 0;  // in the stream
  std::string subject;
  std::string msg_id;  // Nats-Msg-Id, "" when none
  std::string data;
};

class JetStreamLog {
 public:
  // Connects (reconnecting for ever after) and creates the stream if it does not exist; an
  // existing stream with other subjects or replicas is refused (a node of another cluster).
  static Status open(const LogOptions& options, std::unique_ptr<JetStreamLog>& out);
  ~JetStreamLog();
  JetStreamLog(const JetStreamLog&) = delete;
  JetStreamLog& operator=(const JetStreamLog&) = delete;

  // Appends; `sequence` is where it landed, or where the first copy did when JetStream found
  // `msg_id` inside its window (`duplicate` then).
  Status publish(std::string_view subject, std::string_view msg_id, std::string_view data,
                 uint64_t& sequence, bool& duplicate);

  // The same without waiting: `done` runs on the client library's thread (it must not block)
  // with the acknowledgement, or an error (the servers refused it, or no acknowledgement came
  // within the log's timeout: it may still have been appended).
  // With a `chain`, the message goes in only directly after the subject's message at
  // `after_sequence` (0: the subject has none), as the stream's leader numbers them, and names
  // `after_id` as its predecessor (the "Loyalty-Prev" header a chained Reader checks): when
  // another message is there, `done` gets busy and nothing was appended.
  struct Chain {
    uint64_t after_sequence = 0;
    std::string after_id;
  };
  using Published = std::function<void(Status status, uint64_t sequence, bool duplicate)>;
  void publish_async(std::string_view subject, std::string_view msg_id, std::string_view data,
                     Published done, const Chain* chain = nullptr);

  // The subject's newest message as the stream's leader has it: its sequence (0 when the
  // subject has none) and Nats-Msg-Id.
  Status last_message(std::string_view subject, uint64_t& sequence, std::string& msg_id);
  Status last_sequence(std::string_view subject, uint64_t& sequence);

  // Reads one subject in order from a stream sequence on: a push consumer (the servers send
  // messages as they are appended, with flow control and heartbeats), made again from where
  // the reader was after a gap, an error, or when the servers lose it.
  class Reader {
   public:
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    // Up to `max` messages after the last one returned, waiting up to `wait` (at least 1 ms)
    // for the first. An empty `out` with an ok status: nothing new yet. An error: the reader
    // makes a new consumer from where it was on the next call.
    Status fetch(size_t max, std::chrono::milliseconds wait, std::vector<LogMessage>& out);
    uint64_t next_sequence() const { return next_; }
    // A consumer made again after a gap or an error may be served by another replica of the
    // stream. nats-server 2.9 replicas can drift apart after a crash (the same message at
    // another sequence: nats-server issues 4174, 5576), so this reader checks, each time it
    // makes a consumer, that the last message it returned (or, for a new reader, the one its
    // caller applied last) is where it was; when it is elsewhere nearby, the reader goes on
    // after it there, and when it cannot be found, fetch() answers corruption (and tries again
    // on the next call) rather than skip or repeat a message.
    // A chained reader (one of a log its writers chain, cluster/log_writers.hpp) also checks
    // that every message names the one before it as its predecessor: a replica whose copy
    // lacks a message, or holds another in its place, is refused the same way (corruption,
    // and a new consumer, likely on another server, on the next call).
    // Messages of the subject after the last one returned, as the servers counted them when
    // they sent it (0 before the first): how far this reader is behind the log.
    uint64_t pending() const { return pending_; }

   private:
    friend class JetStreamLog;
    Reader(JetStreamLog& log, std::string subject, uint64_t next, std::string last_id,
           bool chained);
    Status subscribe();
    // Where the message `last_id_` is on the replica serving now, looked for around next_ - 1.
    Status locate();
    // `message` names `prev` as its predecessor, not last_id_: the stand-ins of erased
    // messages between the two, oldest first, appended to `out`; false when they do not lead
    // back to last_id_ (the replica holds another history).
    bool stand_ins_between(std::string_view prev, uint64_t before, std::vector<LogMessage>& out);
    void unsubscribe();
    // One message appended to `out` unless it is a copy of one already returned; destroyed.
    Status take(__natsMsg* message, std::vector<LogMessage>& out);
    Status take_checked(__natsMsg* message, uint64_t sequence, std::vector<LogMessage>& out);
    Status check_consumer();
    JetStreamLog& log_;
    std::string subject_;
    uint64_t next_;
    uint64_t pending_ = 0;
    uint64_t delivered_ = 0;  // the consumer's sequence of the last message it delivered
    std::string last_id_;     // Nats-Msg-Id of the message at next_ - 1 ("": not known)
    bool verifying_ = false;  // the consumer starts at next_ - 1: its first must be last_id_
    bool chained_ = false;    // each message must name last_id_ as its predecessor
    __natsSubscription* subscription_ = nullptr;
    std::chrono::steady_clock::time_point last_check_{};
    std::chrono::steady_clock::time_point last_message_{};
  };
  // `after_id`: the Nats-Msg-Id of the message at from_sequence - 1, checked where the stream
  // has it ("": not checked). `chained`: see Reader.
  Status read(std::string_view subject, uint64_t from_sequence, std::unique_ptr<Reader>& out,
              std::string after_id = {}, bool chained = false);

  // Erasure (cluster/log_erasures.hpp). The log is append-only but for this: a message that
  // carries an erased member's personal data is replaced. Its stand-in (the same message with
  // that data blanked) goes in first, under a subject of its own beside the partition's
  // (subject + ".x." + a digest of the message's id), naming the message's id and, for each
  // place the id holds in the subject (a retry after JetStream's window of ids logs a second
  // copy), its sequence and its predecessor's id; then the message is erased (JetStream
  // overwrites its bytes). A chained Reader that finds a message's predecessor gone reads its
  // stand-in in its place.
  //
  // The message at `sequence` as the stream's leader has it; `found` false when there is none
  // (never appended, or erased). `prev_id`: its chain predecessor ("" when none).
  Status get_message(uint64_t sequence, bool& found, LogMessage& out, std::string& prev_id);
  struct Place {
    uint64_t sequence = 0;
    std::string prev_id;
    bool operator==(const Place&) const = default;
  };
  // Puts in the stand-in of `msg_id` of `subject`: it replaces one put before for the id, so
  // `places` names that one's places too.
  Status put_stand_in(std::string_view subject, std::string_view msg_id,
                      const std::vector<Place>& places, std::string_view data);
  // The stand-in of `msg_id` in `subject` (`found` false when there is none).
  Status stand_in(std::string_view subject, std::string_view msg_id, bool& found,
                  std::vector<Place>& places, std::string& data);
  // Whether the stream lets messages be erased (one made before erasures existed does not, and
  // JetStream cannot change that).
  bool erasable() const { return erasable_; }
  // Erases the message at `sequence` (already gone: ok).
  Status erase(uint64_t sequence);

  // Plain NATS messages on the same connection, outside the stream: requests one node sends
  // another (a forwarded event and its result). Not durable; whoever sends one times it out.
  using Handler = std::function<void(const std::string& subject, std::string_view data,
                                     const std::string& reply_to)>;
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    friend class JetStreamLog;
    Subscription() = default;
    __natsSubscription* subscription_ = nullptr;
    std::unique_ptr<Handler> handler_;  // on the heap: see ~Subscription
  };
  // `handler` runs on the client library's thread for the subscription: it must not block.
  Status subscribe(std::string_view subject, Handler handler, std::unique_ptr<Subscription>& out);
  // Sends `data` to `subject`; `reply_to` (may be empty) is where an answer should go.
  Status send(std::string_view subject, std::string_view reply_to, std::string_view data);

  // Whether the connection is up now (for GET /v1/cluster and /readyz).
  bool connected() const;
  const std::string& connected_url() const { return options_.urls.front(); }

 private:
  explicit JetStreamLog(LogOptions options) : options_(std::move(options)) {}
  Status ensure_stream();
  friend struct PublishAcks;  // the client library's acknowledgement handler (the .cpp)
  Published take_published(const __natsMsg* message);

  std::atomic<bool> closing_{false};  // the destructor runs: acknowledgements are ignored
  std::atomic<int> acks_running_{0};  // handlers running now
  std::mutex published_mutex_;
  std::unordered_map<const __natsMsg*, Published> published_;  // awaiting acknowledgement

  LogOptions options_;
  bool erasable_ = true;
  __natsConnection* connection_ = nullptr;
  __jsCtx* js_ = nullptr;
};

}  // namespace loyalty::cluster
