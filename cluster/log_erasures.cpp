#include "cluster/log_erasures.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
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
  // Those still queued stay marked (a later owner ends them); their callers hear it now.
  for (Request& request : queue_) {
    if (request.done) {
      request.done(Status::error(Status::Code::busy, "the node is stopping; ended later"), 0);
    }
  }
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
  if (!log_.erasable()) {
    return Status::error(Status::Code::invalid_argument,
                         "the input log's stream was made before erasures existed and refuses to "
                         "erase messages (docs/cluster.md \"Erasure\")");
  }
  std::optional<uint64_t> erasure_at;
  if (Status s = store_.log_erasure_at(member_id, erasure_at); !s.ok()) return s;
  if (!erasure_at) return Status::ok_status();  // done by an earlier run
  std::vector<std::pair<uint64_t, std::string>> listed;
  if (Status s = store_.personal_messages(member_id, listed); !s.ok()) return s;
  const std::string subject =
      partition_subject(options_.cluster_name, member_partition(member_id, options_.partitions));
  struct Held {
    JetStreamLog::Place place;
    Event event;
  };
  std::map<std::string, std::vector<Held>> held;  // by message id: its copies
  std::vector<uint64_t> done;                     // listed sequences this run ends
  for (const auto& [sequence, msg_id] : listed) {
    // Only what the erasure followed: the erasure's own message is after them, so none of them
    // is the last of its subject (the writers append after that one).
    if (sequence >= *erasure_at) continue;
    done.push_back(sequence);
    LogMessage message;
    Held entry;
    entry.place.sequence = sequence;
    bool found = false;
    if (Status s = log_.get_message(sequence, found, message, entry.place.prev_id); !s.ok()) {
      return s;
    }
    if (!found) continue;  // erased by an earlier run
    if (message.msg_id != msg_id) {
      // The servers number the log otherwise than when it was applied here (replicas that
      // drifted apart): not erased from a guess.
      return Status::error(Status::Code::corruption, "the message at " + std::to_string(sequence) +
                                                         " is " + message.msg_id + ", not " +
                                                         msg_id + " as applied here");
    }
    LogPayload payload;
    if (Status s = decode_log_payload(message.data, payload); !s.ok()) return s;
    Event* event = std::get_if<Event>(&payload);
    if (event == nullptr || event->member_id() != member_id) {
      return Status::error(Status::Code::corruption, "the message at " + std::to_string(sequence) +
                                                         " is not " + member_id +
                                                         "'s sign-up or change");
    }
    entry.event = std::move(*event);
    held[msg_id].push_back(std::move(entry));
  }
  std::vector<Event> events;
  for (const auto& [msg_id, copies] : held) {
    for (const Held& copy : copies) events.push_back(copy.event);
  }
  if (Status s = release_claims(member_id, events); !s.ok()) return s;
  for (auto& [msg_id, copies] : held) {
    // One stand-in per id, naming every place it holds: one put before (a run a crash cut
    // short) keeps its places.
    std::vector<JetStreamLog::Place> places;
    std::string ignored;
    bool exists = false;
    if (Status s = log_.stand_in(subject, msg_id, exists, places, ignored); !s.ok()) return s;
    bool more = false;
    for (const Held& copy : copies) {
      if (std::find(places.begin(), places.end(), copy.place) == places.end()) {
        places.push_back(copy.place);
        more = true;
      }
    }
    if (more) {
      Event blanked = copies.front().event;  // the copies are one request: one blank for all
      blank_personal_data(blanked);
      if (Status s = log_.put_stand_in(subject, msg_id, places,
                                       encode_log_payload(LogPayload(std::move(blanked))));
          !s.ok()) {
        return s;
      }
    }
    for (const Held& copy : copies) {
      if (Status s = log_.erase(copy.place.sequence); !s.ok()) return s;
      ++erased;
    }
  }
  return store_.finish_log_erasure(member_id, done);
}

}  // namespace loyalty::cluster
