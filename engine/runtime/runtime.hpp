// The runtime that drives the engine: members are hashed to partitions, each partition has
// one writer thread that drains its bounded queue in batches, applies the events through the
// pure engine and commits each batch as one atomic write (group commit). A client's
// completion runs only after its batch is durable.
// Thread-safety: submit() may be called from any thread; completions run on writer threads
// and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/apply.hpp"
#include "engine/events.hpp"
#include "engine/runtime/program_registry.hpp"
#include "engine/store.hpp"

namespace loyalty {

class ClaimTable;

struct RuntimeOptions {
  uint32_t partitions = 2;        // writer threads; loyaltyd uses one per core by default
  size_t queue_capacity = 16384;  // per partition; a full queue refuses with `unavailable`
  size_t batch_events_max = 512;  // events per group commit
};

struct EventResult {
  Rejection rejection;  // code ok: applied (or replayed)
  bool replayed = false;
  Answer answer;
  std::optional<MemberState> member;        // the member after the event (sign-ups answer with it)
  std::vector<Notification> notifications;  // durable changes to push to subscribers
};

using Completion = std::function<void(EventResult&&)>;
using Clock = std::function<TimeMs()>;

class Runtime {
 public:
  Runtime(RuntimeOptions options, MemberStore& store, ProgramRegistry& programs, Clock clock);
  ~Runtime();  // stops and drains
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Validates the event, then queues it for its member's partition. `done` runs exactly once:
  // at once on a validation refusal or a full queue, else after the batch commits.
  void submit(Event event, Completion done);

  // Stops accepting, finishes everything queued, joins the writers. Idempotent.
  void stop();

  uint32_t partition_count() const;
  uint32_t partition_of(std::string_view member_id) const;

 private:
  class Partition;
  RuntimeOptions options_;
  MemberStore& store_;
  ProgramRegistry& programs_;
  Clock clock_;
  std::unique_ptr<ClaimTable> claims_;
  std::vector<std::unique_ptr<Partition>> partitions_;
};

}  // namespace loyalty
