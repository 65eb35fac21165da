#include "cluster/log_erasures.hpp"

#include <cstdio>
#include <set>
#include <utility>

#include "cluster/partition_applier.hpp"
#include "engine/claim_keys.hpp"
#include "engine/personal_data.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::cluster {

LogErasures::LogErasures(Options options, JetStreamLog& log, RocksStore& store,
                         const IdentifierKeys& keys, LogAppend append, Owns owns)
    : options_(std::move(options)),
      log_(log),
      store_(store),
      keys_(keys),
      append_(std::move(append)),
      owns_(std::move(owns)),
      thread_([this] { loop(); }) {}

LogErasures::~LogErasures() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void LogErasures::submit(std::string member_id, Done done) {
  {
    const std::lock_guard lock(mutex_);
    queue_.push_back(Request{std::move(member_id), std::move(done)});
  }
  changed_.notify_all();
}

void LogErasures::loop() {
  auto next_look = std::chrono::steady_clock::now() + options_.retry;
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait_until(lock, next_look, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    if (queue_.empty()) {
      // The marks of the partitions this node owns now.
      next_look = std::chrono::steady_clock::now() + options_.retry;
      lock.unlock();
      std::vector<std::string> pending;
      if (Status s = store_.pending_log_erasures(pending); !s.ok()) {
        std::fprintf(stderr, "cluster: erasures: %s\n", s.message().c_str());
      }
      lock.lock();
      for (std::string& member : pending) {
        if (owns_(member_partition(member, options_.partitions))) {
          queue_.push_back(Request{std::move(member), nullptr});
        }
      }
      continue;
    }
    Request request = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    uint64_t erased = 0;
    const Status status = erase(request.member_id, erased);
    if (!status.ok()) {
      std::fprintf(stderr, "cluster: erasure of %s from the log: %s (tried again later)\n",
                   request.member_id.c_str(), status.message().c_str());
    }
    if (request.done) request.done(status, erased);
    lock.lock();
  }
}

Status LogErasures::release_claims(const std::string& member_id,
                                   const std::vector<Event>& messages) {
  std::set<std::string> keys;  // each once
  const auto add = [&](IdentifierKind kind, const std::string& value) {
    if (!value.empty()) keys.insert(keys_.protect(identifier_claim_key(kind, value)));
  };
  for (const Event& event : messages) {
    if (const auto* signup = std::get_if<SignupEvent>(&event.body)) {
      add(IdentifierKind::phone, signup->phone);
      add(IdentifierKind::card, signup->card_no);
    } else if (const auto* update = std::get_if<MemberUpdateEvent>(&event.body)) {
      if (update->phone) add(IdentifierKind::phone, *update->phone);
      if (update->card_no) add(IdentifierKind::card, *update->card_no);
    }
  }
  for (const std::string& key : keys) {
    // Given up only while it is this member's (engine: decide_claim).
    if (Status s = append_(member_partition(key, options_.partitions),
                           ClaimAsk{key, member_id, /*release=*/true});
        !s.ok()) {
      return s;
    }
  }
  return Status::ok_status();
}

Status LogErasures::erase(const std::string& member_id, uint64_t& erased) {
  erased = 0;
  std::vector<std::pair<uint64_t, std::string>> listed;
  if (Status s = store_.personal_messages(member_id, listed); !s.ok()) return s;
  struct Held {
    LogMessage message;
    std::string prev_id;
    Event event;
  };
  std::vector<Held> held;
  for (const auto& [sequence, msg_id] : listed) {
    Held entry;
    bool found = false;
    if (Status s = log_.get_message(sequence, found, entry.message, entry.prev_id); !s.ok()) {
      return s;
    }
    if (!found) continue;  // erased by an earlier run
    if (entry.message.msg_id != msg_id) {
      // The servers number the log otherwise than when it was applied here (replicas that
      // drifted apart): not erased from a guess.
      return Status::error(Status::Code::corruption, "the message at " + std::to_string(sequence) +
                                                         " is " + entry.message.msg_id + ", not " +
                                                         msg_id + " as applied here");
    }
    LogPayload payload;
    if (Status s = decode_log_payload(entry.message.data, payload); !s.ok()) return s;
    Event* event = std::get_if<Event>(&payload);
    if (event == nullptr || event->member_id() != member_id) {
      return Status::error(Status::Code::corruption, "the message at " + std::to_string(sequence) +
                                                         " is not " + member_id +
                                                         "'s sign-up or change");
    }
    entry.event = std::move(*event);
    held.push_back(std::move(entry));
  }
  std::vector<Event> events;
  for (const Held& entry : held) events.push_back(entry.event);
  if (Status s = release_claims(member_id, events); !s.ok()) return s;
  for (Held& entry : held) {
    blank_personal_data(entry.event);
    if (Status s = log_.put_stand_in(entry.message, entry.prev_id,
                                     encode_log_payload(LogPayload(std::move(entry.event))));
        !s.ok()) {
      return s;
    }
    if (Status s = log_.erase(entry.message.sequence); !s.ok()) return s;
    ++erased;
  }
  return store_.finish_log_erasure(member_id);
}

}  // namespace loyalty::cluster
