#include "cluster/jetstream_log.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "cluster/wire_fields.hpp"
#include "storage/keys.hpp"

namespace loyalty::cluster {
namespace {

constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kPrevHeader = "Loyalty-Prev";  // a chained message's predecessor's id
constexpr const char* kExpectedHeader = "Nats-Expected-Last-Subject-Sequence";
// A stand-in's (JetStreamLog::put_stand_in): the id of the message it replaces.
constexpr const char* kReplacesHeader = "Loyalty-Replaces";
// Stand-ins of more erased messages in a row than this are not looked for (an erasure replaces
// a member's sign-up and changes: a few).
constexpr size_t kStandInsInARowMax = 10'000;
// How often the servers tell a reader's consumer is alive while nothing is appended.
constexpr std::chrono::milliseconds kHeartbeat{1000};

Status nats_error(std::string_view what, natsStatus status,
                  jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string message = "nats: " + std::string(what) + ": " + natsStatus_GetText(status);
  if (code != 0) message += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    message += ": ";
    message += last;
  }
  return Status::error(Status::Code::io_error, std::move(message));
}

// nats.c's library-wide state: opened once, before the first connection.
void open_library() {
  static std::once_flag once;
  std::call_once(once, [] { nats_Open(-1); });
}

int64_t nanoseconds(std::chrono::nanoseconds duration) { return duration.count(); }

std::string header(natsMsg* message, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(message, name, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

// Where the stand-in of `replaced_id` of `subject` goes: a digest keeps the subject's tokens
// plain (an id may hold any character).
std::string stand_in_subject(std::string_view subject, std::string_view replaced_id) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a-64
  for (const char c : replaced_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(subject) + ".x." + digits;
}

}  // namespace

struct PublishAcks {
  static void on_ack(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure) {
    auto* log = static_cast<JetStreamLog*>(closure);
    log->acks_running_.fetch_add(1);
    struct Leaving {
      JetStreamLog* log;
      ~Leaving() { log->acks_running_.fetch_sub(1); }
    } leaving{log};
    JetStreamLog::Published done = log->closing_.load() ? nullptr : log->take_published(message);
    natsMsg_Destroy(message);  // ours again once acknowledged (or failed)
    if (!done) return;
    if (error != nullptr && error->ErrCode == JSStreamWrongLastSequenceErr) {
      done(Status::error(Status::Code::busy, "nats: publish: another message is in its place"), 0,
           false);
    } else if (error != nullptr) {
      done(nats_error(std::string("publish: ") + (error->ErrText ? error->ErrText : ""), error->Err,
                      error->ErrCode),
           0, false);
    } else if (ack != nullptr) {
      done(Status::ok_status(), ack->Sequence, ack->Duplicate);
    } else {
      done(Status::error(Status::Code::io_error, "nats: publish: no acknowledgement"), 0, false);
    }
  }
};

Status JetStreamLog::open(const LogOptions& options, std::unique_ptr<JetStreamLog>& out) {
  open_library();
  std::unique_ptr<JetStreamLog> log(new JetStreamLog(options));
  natsOptions* nats_options = nullptr;
  if (natsStatus s = natsOptions_Create(&nats_options); s != NATS_OK)
    return nats_error("options", s);
  std::vector<const char*> urls;
  for (const std::string& url : options.urls) urls.push_back(url.c_str());
  natsStatus s = natsOptions_SetServers(nats_options, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(nats_options, options.client_name.c_str());
  // A server of three going away is routine (the nemesis does it): reconnect for ever, soon.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(nats_options, options.timeout.count());
  if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(nats_options, false, nullptr, nullptr);
  if (s == NATS_OK) s = natsConnection_Connect(&log->connection_, nats_options);
  natsOptions_Destroy(nats_options);
  if (s != NATS_OK) return nats_error("connect", s);

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = options.timeout.count();
  // Asynchronous publishes (publish_async) are acknowledged to one handler; the requests of
  // every node's clients are in flight at once, so the bound is generous.
  js_options.PublishAsync.AckHandler = &PublishAcks::on_ack;
  js_options.PublishAsync.AckHandlerClosure = log.get();
  js_options.PublishAsync.MaxPending = 65536;
  if (s = natsConnection_JetStream(&log->js_, log->connection_, &js_options); s != NATS_OK) {
    return nats_error("jetstream", s);
  }
  if (Status status = log->ensure_stream(); !status.ok()) return status;
  out = std::move(log);
  return Status::ok_status();
}

JetStreamLog::~JetStreamLog() {
  if (js_ != nullptr) {
    // Acknowledgements still on their way are waited for a moment, then ignored; a handler
    // already running finishes before anything it uses goes.
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MaxWait = 2000;
    js_PublishAsyncComplete(js_, &options);
    closing_.store(true);
    for (int i = 0; i < 500 && acks_running_.load() > 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    jsCtx_Destroy(js_);
  }
  if (connection_ != nullptr) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
  }
}

Status JetStreamLog::ensure_stream() {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js_, options_.stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    const jsStreamConfig* config = info->Config;
    const bool same = config->SubjectsLen == 1 && options_.subjects == config->Subjects[0] &&
                      config->Replicas == static_cast<int64_t>(options_.replicas);
    erasable_ = !config->DenyDelete;
    jsStreamInfo_Destroy(info);
    if (!same) {
      return Status::error(Status::Code::invalid_argument,
                           "nats: stream " + options_.stream +
                               " exists with other subjects or replicas than this node's "
                               "[cluster] gives");
    }
    return Status::ok_status();
  }
  if (s != NATS_NOT_FOUND) return nats_error("stream info " + options_.stream, s, code);

  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {options_.subjects.c_str()};
  config.Name = options_.stream.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = options_.replicas;
  // The log is the partitions' history: a standby or a new owner that starts from nothing
  // replays it from the beginning, so nothing is aged out (docs/cluster.md on its size).
  config.Retention = js_LimitsPolicy;
  config.Duplicates = nanoseconds(options_.duplicate_window);
  // Deletes are allowed for erasures only (put_stand_in, erase); purges never.
  config.DenyDelete = false;
  config.DenyPurge = true;
  s = js_AddStream(&info, js_, &config, nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return Status::ok_status();
  }
  // Another node created it at the same moment: JetStream answers "already in use".
  if (code == JSStreamNameExistErr) return ensure_stream();
  return nats_error("create stream " + options_.stream, s, code);
}

Status JetStreamLog::publish(std::string_view subject, std::string_view msg_id,
                             std::string_view data, uint64_t& sequence, bool& duplicate) {
  const std::string subject_text(subject);
  const std::string id(msg_id);
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.empty() ? nullptr : id.c_str();
  options.ExpectStream = options_.stream.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_Publish(&ack, js_, subject_text.c_str(), data.data(),
                                  static_cast<int>(data.size()), &options, &code);
  if (s != NATS_OK) return nats_error("publish " + subject_text, s, code);
  sequence = ack->Sequence;
  duplicate = ack->Duplicate;
  jsPubAck_Destroy(ack);
  return Status::ok_status();
}

void JetStreamLog::publish_async(std::string_view subject, std::string_view msg_id,
                                 std::string_view data, Published done, const Chain* chain) {
  const std::string subject_text(subject);
  const std::string id(msg_id);
  natsMsg* message = nullptr;
  natsStatus s = natsMsg_Create(&message, subject_text.c_str(), nullptr, data.data(),
                                static_cast<int>(data.size()));
  if (s != NATS_OK) {
    done(nats_error("publish " + subject_text, s), 0, false);
    return;
  }
  if (chain != nullptr) {
    // Set here, not through jsPubOptions: the library leaves out an expected sequence of 0,
    // and 0 is what the first message of a subject expects (the server checks it as "none").
    s = natsMsgHeader_Set(message, kExpectedHeader, std::to_string(chain->after_sequence).c_str());
    if (s == NATS_OK && !chain->after_id.empty()) {
      s = natsMsgHeader_Set(message, kPrevHeader, chain->after_id.c_str());
    }
    if (s != NATS_OK) {
      natsMsg_Destroy(message);
      done(nats_error("publish " + subject_text, s), 0, false);
      return;
    }
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = id.empty() ? nullptr : id.c_str();
  options.ExpectStream = options_.stream.c_str();
  options.MaxWait = options_.timeout.count();  // then the handler hears of a timeout
  {
    // Registered first: the acknowledgement may come before js_PublishMsgAsync returns.
    const std::lock_guard lock(published_mutex_);
    published_.emplace(message, std::move(done));
  }
  natsMsg* sent = message;
  s = js_PublishMsgAsync(js_, &sent, &options);
  if (s != NATS_OK) {
    // Not taken by the library (`sent` is still ours): nothing will acknowledge it.
    Published failed = take_published(message);
    natsMsg_Destroy(message);
    if (failed) failed(nats_error("publish " + subject_text, s), 0, false);
  }
}

JetStreamLog::Published JetStreamLog::take_published(const natsMsg* message) {
  const std::lock_guard lock(published_mutex_);
  const auto it = published_.find(message);
  if (it == published_.end()) return nullptr;
  Published done = std::move(it->second);
  published_.erase(it);
  return done;
}

Status JetStreamLog::last_message(std::string_view subject, uint64_t& sequence,
                                  std::string& msg_id) {
  const std::string subject_text(subject);
  natsMsg* message = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // STREAM.MSG.GET, answered by the stream's leader (not a direct get, which any replica may
  // answer): the leader is where the next publish is numbered.
  const natsStatus s =
      js_GetLastMsg(&message, js_, options_.stream.c_str(), subject_text.c_str(), nullptr, &code);
  sequence = 0;
  msg_id.clear();
  if (s == NATS_NOT_FOUND) return Status::ok_status();
  if (s != NATS_OK) return nats_error("last message of " + subject_text, s, code);
  sequence = natsMsg_GetSequence(message);
  const char* id = nullptr;
  if (natsMsgHeader_Get(message, kMsgIdHeader, &id) == NATS_OK && id != nullptr) msg_id = id;
  natsMsg_Destroy(message);
  return Status::ok_status();
}

Status JetStreamLog::get_message(uint64_t sequence, bool& found, LogMessage& out,
                                 std::string& prev_id) {
  natsMsg* message = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetMsg(&message, js_, options_.stream.c_str(), sequence, nullptr, &code);
  found = false;
  if (s == NATS_NOT_FOUND) return Status::ok_status();
  if (s != NATS_OK) return nats_error("message " + std::to_string(sequence), s, code);
  found = true;
  out.sequence = sequence;
  out.subject = natsMsg_GetSubject(message);
  out.msg_id = header(message, kMsgIdHeader);
  out.data.assign(natsMsg_GetData(message), static_cast<size_t>(natsMsg_GetDataLength(message)));
  prev_id = header(message, kPrevHeader);
  natsMsg_Destroy(message);
  return Status::ok_status();
}

Status JetStreamLog::put_stand_in(std::string_view subject, std::string_view msg_id,
                                  const std::vector<Place>& places, std::string_view data) {
  const std::string where = stand_in_subject(subject, msg_id);
  // Its places, then the blanked message.
  std::string body;
  storage::append_u32_be(body, static_cast<uint32_t>(places.size()));
  for (const Place& place : places) {
    storage::append_u64_be(body, place.sequence);
    wire::put_bytes(body, place.prev_id);
  }
  wire::put_bytes(body, data);
  natsMsg* message = nullptr;
  natsStatus s =
      natsMsg_Create(&message, where.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  if (s != NATS_OK) return nats_error("stand-in " + where, s);
  s = natsMsgHeader_Set(message, kReplacesHeader, std::string(msg_id).c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(message);
    return nats_error("stand-in " + where, s);
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.ExpectStream = options_.stream.c_str();
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_PublishMsg(&ack, js_, message, &options, &code);
  natsMsg_Destroy(message);
  if (s != NATS_OK) return nats_error("stand-in " + where, s, code);
  jsPubAck_Destroy(ack);
  return Status::ok_status();
}

Status JetStreamLog::stand_in(std::string_view subject, std::string_view msg_id, bool& found,
                              std::vector<Place>& places, std::string& data) {
  const std::string where = stand_in_subject(subject, msg_id);
  natsMsg* message = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_GetLastMsg(&message, js_, options_.stream.c_str(), where.c_str(), nullptr, &code);
  found = false;
  places.clear();
  if (s == NATS_NOT_FOUND) return Status::ok_status();
  if (s != NATS_OK) return nats_error("stand-in " + where, s, code);
  const bool same = header(message, kReplacesHeader) == msg_id;
  std::string_view body(natsMsg_GetData(message),
                        static_cast<size_t>(natsMsg_GetDataLength(message)));
  bool read = same && body.size() >= 4;
  if (read) {
    uint32_t count = *storage::read_u32_be(body.substr(0, 4));
    body.remove_prefix(4);
    for (; read && count > 0; --count) {
      Place place;
      read = wire::take_u64(body, place.sequence) && wire::take_bytes(body, place.prev_id);
      places.push_back(std::move(place));
    }
    read = read && wire::take_bytes(body, data) && body.empty();
  }
  natsMsg_Destroy(message);
  if (!same) return Status::ok_status();  // another id's (a digest's collision): none
  if (!read) {
    return Status::error(Status::Code::corruption, "nats: stand-in " + where + " is unreadable");
  }
  found = true;
  return Status::ok_status();
}

Status JetStreamLog::erase(uint64_t sequence) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_EraseMsg(js_, options_.stream.c_str(), sequence, nullptr, &code);
  if (s == NATS_OK) return Status::ok_status();
  // Erased before (a retry): the servers answer a failure naming no reason that matters here.
  bool found = true;
  LogMessage ignored;
  std::string prev;
  if (get_message(sequence, found, ignored, prev).ok() && !found) return Status::ok_status();
  return nats_error("erase message " + std::to_string(sequence), s, code);
}

Status JetStreamLog::last_sequence(std::string_view subject, uint64_t& sequence) {
  std::string ignored;
  return last_message(subject, sequence, ignored);
}

namespace {

void on_message(natsConnection*, natsSubscription*, natsMsg* message, void* closure) {
  const auto* handler = static_cast<const JetStreamLog::Handler*>(closure);
  const char* reply = natsMsg_GetReply(message);
  (*handler)(natsMsg_GetSubject(message),
             std::string_view(natsMsg_GetData(message),
                              static_cast<size_t>(natsMsg_GetDataLength(message))),
             reply == nullptr ? std::string() : std::string(reply));
  natsMsg_Destroy(message);
}

}  // namespace

JetStreamLog::Subscription::~Subscription() {
  if (subscription_ == nullptr) return;
  // Drain (no new messages; those delivered are handled) and wait until no callback of it
  // runs any more: the handler dies with us.
  bool drained = false;
  if (natsSubscription_Drain(subscription_) == NATS_OK) {
    drained = natsSubscription_WaitForDrainCompletion(subscription_, 10000) == NATS_OK;
  } else {
    natsSubscription_Unsubscribe(subscription_);
  }
  natsSubscription_Destroy(subscription_);
  // A callback still running past the wait (a publish stuck while NATS is away) would use a
  // destroyed handler: leave it to the process instead (rare, and small).
  if (!drained) handler_.release();
}

Status JetStreamLog::subscribe(std::string_view subject, Handler handler,
                               std::unique_ptr<Subscription>& out) {
  std::unique_ptr<Subscription> subscription(new Subscription());
  subscription->handler_ = std::make_unique<Handler>(std::move(handler));
  const std::string subject_text(subject);
  const natsStatus s =
      natsConnection_Subscribe(&subscription->subscription_, connection_, subject_text.c_str(),
                               on_message, subscription->handler_.get());
  if (s != NATS_OK) {
    subscription->subscription_ = nullptr;
    return nats_error("subscribe " + subject_text, s);
  }
  out = std::move(subscription);
  return Status::ok_status();
}

Status JetStreamLog::send(std::string_view subject, std::string_view reply_to,
                          std::string_view data) {
  const std::string subject_text(subject), reply_text(reply_to);
  const natsStatus s =
      reply_text.empty()
          ? natsConnection_Publish(connection_, subject_text.c_str(), data.data(),
                                   static_cast<int>(data.size()))
          : natsConnection_PublishRequest(connection_, subject_text.c_str(), reply_text.c_str(),
                                          data.data(), static_cast<int>(data.size()));
  if (s != NATS_OK) return nats_error("send " + subject_text, s);
  return Status::ok_status();
}

bool JetStreamLog::connected() const {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

Status JetStreamLog::read(std::string_view subject, uint64_t from_sequence,
                          std::unique_ptr<Reader>& out, std::string after_id, bool chained) {
  std::unique_ptr<Reader> reader(
      new Reader(*this, std::string(subject), from_sequence, std::move(after_id), chained));
  if (Status s = reader->subscribe(); !s.ok()) return s;
  out = std::move(reader);
  return Status::ok_status();
}

JetStreamLog::Reader::Reader(JetStreamLog& log, std::string subject, uint64_t next,
                             std::string last_id, bool chained)
    : log_(log),
      subject_(std::move(subject)),
      next_(next == 0 ? 1 : next),
      last_id_(next > 1 ? std::move(last_id) : std::string()),
      chained_(chained) {}

Status JetStreamLog::Reader::locate() {
  // The drift seen is a few messages; the search looks this far either side.
  constexpr uint64_t kWindow = 10'000;
  const uint64_t around = next_ - 1;
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = log_.options_.stream.c_str();
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = around > kWindow ? around - kWindow : 1;
  options.Config.AckPolicy = js_AckNone;
  options.Config.FlowControl = true;
  options.Config.Heartbeat = nanoseconds(kHeartbeat);
  natsSubscription* scan = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_SubscribeSync(&scan, log_.js_, subject_.c_str(), nullptr, &options, &code);
  if (s != NATS_OK) return nats_error("search " + subject_, s, code);
  natsSubscription_SetPendingLimits(scan, 1 << 20, 1 << 30);
  uint64_t found = 0;
  while (true) {
    natsMsg* message = nullptr;
    s = natsSubscription_NextMsg(&message, scan, 2000);
    if (s != NATS_OK) break;  // the end of what the stream has (or an error: not found then)
    jsMsgMetaData* meta = nullptr;
    uint64_t sequence = 0;
    if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
      sequence = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    const char* id = nullptr;
    const bool same =
        natsMsgHeader_Get(message, kMsgIdHeader, &id) == NATS_OK && id != nullptr && last_id_ == id;
    natsMsg_Destroy(message);
    // The same id can be in the log twice (a retry published after JetStream's window): the
    // occurrence nearest to where this reader was is the one.
    const auto distance = [around](uint64_t at) { return at > around ? at - around : around - at; };
    if (same && (found == 0 || distance(sequence) < distance(found))) found = sequence;
    if (sequence > around + kWindow) break;
  }
  natsSubscription_Unsubscribe(scan);
  natsSubscription_Destroy(scan);
  if (found == 0) {
    return Status::error(Status::Code::corruption,
                         "nats: " + subject_ + ": the message at " + std::to_string(around) + " (" +
                             last_id_ +
                             ") is not in the stream the servers give now: its replicas "
                             "disagree; not reading on from a guess");
  }
  std::fprintf(stderr,
               "cluster: nats: %s: the message this reader had at %llu is at %llu on the "
               "replica serving now (the stream's replicas drifted apart); going on after it\n",
               subject_.c_str(), static_cast<unsigned long long>(around),
               static_cast<unsigned long long>(found));
  next_ = found + 1;
  return Status::ok_status();
}

JetStreamLog::Reader::~Reader() { unsubscribe(); }

Status JetStreamLog::Reader::subscribe() {
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = log_.options_.stream.c_str();
  // Pushed as they are appended (a pull would add a request's round trip to every batch),
  // with flow control and heartbeats. Not an "ordered" consumer of the client library: that
  // one makes itself again after a reconnect from the last message it delivered, which for a
  // reader that had none yet is the log's first message (a whole replay). This reader makes its
  // consumer again itself, from its own position, on a gap or any error. Nothing is
  // acknowledged: where a reader is up to is its applier's business (committed with the state).
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  // From the last message returned, to check it is still there (see Reader).
  verifying_ = !last_id_.empty();
  options.Config.OptStartSeq = verifying_ ? next_ - 1 : next_;
  options.Config.AckPolicy = js_AckNone;
  options.Config.FlowControl = true;
  options.Config.Heartbeat = nanoseconds(kHeartbeat);
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_SubscribeSync(&subscription_, log_.js_, subject_.c_str(), nullptr, &options, &code);
  if (s != NATS_OK) {
    subscription_ = nullptr;
    return nats_error("subscribe " + subject_, s, code);
  }
  // Flow control bounds what the servers send ahead; these only keep the client library from
  // dropping what they did send while the applier is busy.
  natsSubscription_SetPendingLimits(subscription_, 1 << 20, 1 << 30);
  last_message_ = std::chrono::steady_clock::now();
  delivered_ = 0;
  return Status::ok_status();
}

void JetStreamLog::Reader::unsubscribe() {
  if (subscription_ == nullptr) return;
  natsSubscription_Unsubscribe(subscription_);
  natsSubscription_Destroy(subscription_);
  subscription_ = nullptr;
}

Status JetStreamLog::Reader::fetch(size_t max, std::chrono::milliseconds wait,
                                   std::vector<LogMessage>& out) {
  out.clear();
  if (subscription_ == nullptr) {
    if (Status s = subscribe(); !s.ok()) return s;
  }
  // The first message waits up to `wait`; what else is already here comes with it.
  int64_t timeout = std::max<int64_t>(wait.count(), 1);
  while (out.size() < max) {
    natsMsg* message = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&message, subscription_, timeout);
    if (s == NATS_TIMEOUT) break;
    if (s != NATS_OK) {
      // Missed heartbeats, a slow consumer, the connection gone: start again from `next_`
      // (what this call took so far is returned, and `next_` is after it).
      unsubscribe();
      if (!out.empty()) return Status::ok_status();
      return nats_error("read " + subject_, s);
    }
    if (Status status = take(message, out); !status.ok()) {
      unsubscribe();
      if (!out.empty()) return Status::ok_status();
      return status;
    }
    timeout = 0;
  }
  if (!out.empty()) {
    last_message_ = std::chrono::steady_clock::now();
    return Status::ok_status();
  }
  return check_consumer();
}

Status JetStreamLog::Reader::check_consumer() {
  // A consumer lives on one server; the heartbeats tell the client library when it is gone,
  // but only as long as the connection is up. While nothing comes, ask now and then.
  const auto now = std::chrono::steady_clock::now();
  if (now - last_message_ < kHeartbeat * 2 || now - last_check_ < std::chrono::seconds(1)) {
    return Status::ok_status();
  }
  last_check_ = now;
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_GetConsumerInfo(&info, subscription_, nullptr, &code);
  if (s == NATS_OK) {
    jsConsumerInfo_Destroy(info);
    return Status::ok_status();
  }
  unsubscribe();
  return nats_error("consumer of " + subject_ + " is gone", s, code);
}

Status JetStreamLog::Reader::take(natsMsg* message, std::vector<LogMessage>& out) {
  jsMsgMetaData* meta = nullptr;
  if (natsStatus m = natsMsg_GetMetaData(&meta, message); m != NATS_OK) {
    natsMsg_Destroy(message);
    return nats_error("metadata", m);
  }
  const uint64_t sequence = meta->Sequence.Stream;
  const uint64_t delivered = meta->Sequence.Consumer;
  pending_ = meta->NumPending;
  jsMsgMetaData_Destroy(meta);
  // The consumer numbers what it delivers 1, 2, 3…: a jump is a message lost on the way (a
  // slow consumer's drop): start again from this reader's own position.
  if (delivered != delivered_ + 1) {
    natsMsg_Destroy(message);
    return Status::error(Status::Code::io_error,
                         "nats: read " + subject_ + ": a gap in what the consumer delivered");
  }
  delivered_ = delivered;
  if (verifying_) {
    verifying_ = false;
    const char* id = nullptr;
    const bool same = sequence == next_ - 1 &&
                      natsMsgHeader_Get(message, kMsgIdHeader, &id) == NATS_OK && id != nullptr &&
                      last_id_ == id;
    if (same) {
      natsMsg_Destroy(message);
      return Status::ok_status();  // where it was: go on after it
    }
    // The last message returned may have been erased since (its stand-in was read): then this
    // is the one after it, and names it (or stand-ins that lead to it) as its predecessor.
    if (chained_ && sequence >= next_) {
      std::vector<LogMessage> stand_ins;
      if (stand_ins_between(header(message, kPrevHeader), sequence, stand_ins)) {
        for (LogMessage& entry : stand_ins) out.push_back(std::move(entry));
        return take_checked(message, sequence, out);
      }
    }
    natsMsg_Destroy(message);
    if (Status status = locate(); !status.ok()) return status;
    // Found elsewhere: a consumer from after it (checked again, as any new one is).
    return Status::error(Status::Code::io_error,
                         "nats: read " + subject_ + ": going on from the replica's numbering");
  }
  if (sequence >= next_ && chained_) {
    // An empty header does not travel: none is the first message of the subject's chain.
    const std::string prev = header(message, kPrevHeader);
    if (last_id_ != prev) {
      // Erased messages between the two: their stand-ins go first.
      std::vector<LogMessage> stand_ins;
      if (!stand_ins_between(prev, sequence, stand_ins)) {
        std::string error = "nats: read " + subject_ + ": the message at " +
                            std::to_string(sequence) + " follows \"" + prev + "\", not \"" +
                            last_id_ +
                            "\" (the last one read here): the replica serving this reader holds "
                            "another history than its writer appended to; reading it elsewhere";
        natsMsg_Destroy(message);
        return Status::error(Status::Code::corruption, std::move(error));
      }
      for (LogMessage& entry : stand_ins) out.push_back(std::move(entry));
    }
  }
  return take_checked(message, sequence, out);
}

bool JetStreamLog::Reader::stand_ins_between(std::string_view prev, uint64_t before,
                                             std::vector<LogMessage>& out) {
  std::vector<LogMessage> found;  // newest first
  std::string wanted(prev);
  uint64_t below = before;
  while (wanted != last_id_) {
    if (wanted.empty() || found.size() == kStandInsInARowMax) return false;
    std::vector<Place> places;
    LogMessage stand_in;
    bool exists = false;
    if (!log_.stand_in(subject_, wanted, exists, places, stand_in.data).ok() || !exists) {
      return false;
    }
    // The place just before `below`, after what this reader returned (a stand-in names where
    // its message was: a replica that numbers the log otherwise is not read from stand-ins).
    const Place* place = nullptr;
    for (const Place& candidate : places) {
      if (candidate.sequence >= next_ && candidate.sequence < below &&
          (place == nullptr || candidate.sequence > place->sequence)) {
        place = &candidate;
      }
    }
    if (place == nullptr) return false;
    stand_in.sequence = place->sequence;
    stand_in.subject = subject_;
    stand_in.msg_id = wanted;  // in the chain, it is the message it stands in for
    below = place->sequence;
    wanted = place->prev_id;
    found.push_back(std::move(stand_in));
  }
  for (auto it = found.rbegin(); it != found.rend(); ++it) {
    next_ = it->sequence + 1;
    last_id_ = it->msg_id;
    out.push_back(std::move(*it));
  }
  return true;
}

// Returns `message` (taken: destroyed here) unless it is a redelivery of what was returned.
Status JetStreamLog::Reader::take_checked(natsMsg* message, uint64_t sequence,
                                          std::vector<LogMessage>& out) {
  if (sequence >= next_) {  // else a redelivery of what was already returned
    LogMessage entry;
    entry.sequence = sequence;
    entry.subject = natsMsg_GetSubject(message);
    const char* id = nullptr;
    if (natsMsgHeader_Get(message, kMsgIdHeader, &id) == NATS_OK && id != nullptr)
      entry.msg_id = id;
    entry.data.assign(natsMsg_GetData(message),
                      static_cast<size_t>(natsMsg_GetDataLength(message)));
    next_ = sequence + 1;
    last_id_ = entry.msg_id;
    out.push_back(std::move(entry));
  }
  natsMsg_Destroy(message);
  return Status::ok_status();
}

}  // namespace loyalty::cluster
