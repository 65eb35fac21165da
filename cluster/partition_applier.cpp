#include "cluster/partition_applier.hpp"

#include <cstdio>

#include "cluster/log_codec.hpp"
#include "engine/check.hpp"

namespace loyalty::cluster {

std::string partition_subject(const std::string& cluster_name, uint32_t partition) {
  return cluster_name + ".p." + std::to_string(partition);
}

PartitionApplier::PartitionApplier(Options options, JetStreamLog& log, Runtime& runtime,
                                   RocksStore& store, Applied applied,
                                   PrepareProgram prepare_program)
    : options_(std::move(options)),
      log_(log),
      runtime_(runtime),
      store_(store),
      applied_(std::move(applied)),
      prepare_program_(std::move(prepare_program)),
      subject_(partition_subject(options_.cluster_name, options_.partition)),
      thread_([this] { run(); }) {
  // Known from the start (before the thread opens its reader), for the submit path's check of
  // whether a copy's first was applied already.
  uint64_t committed = 0;
  std::string committed_id;
  if (store_.applied_position(options_.partition, committed, committed_id).ok()) {
    uint64_t through = 0;
    if (applied_through_.compare_exchange_strong(through, committed)) {
      const std::lock_guard lock(mutex_);
      last_applied_id_ = committed_id;
    }
  }
}

PartitionApplier::~PartitionApplier() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  wait_for_outstanding();
}

void PartitionApplier::find_log_end() {
  log_end_known_.store(false);
  log_end_wanted_.store(true);
}

std::string PartitionApplier::last_applied_id() const {
  const std::lock_guard lock(mutex_);
  return last_applied_id_;
}

std::string PartitionApplier::last_error() const {
  const std::lock_guard lock(mutex_);
  return last_error_;
}

Status PartitionApplier::open_reader() {
  // What is still queued in the runtime commits (or fails) first: the committed position read
  // below must be past it, or it would be queued a second time.
  wait_for_outstanding();
  caught_up_.store(false);
  uint64_t committed = 0;
  std::string committed_id;
  if (Status s = store_.applied_position(options_.partition, committed, committed_id); !s.ok()) {
    return s;
  }
  applied_through_.store(committed);
  {
    const std::lock_guard lock(mutex_);
    last_applied_id_ = committed_id;
  }
  // The reader checks the last message applied is where the stream has it, and that each
  // message follows the one before it (JetStreamLog::Reader, cluster/log_writers.hpp).
  return log_.read(subject_, committed + 1, reader_, committed_id, /*chained=*/true);
}

void PartitionApplier::wait_for_outstanding() {
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [this] { return outstanding_.load() == 0; });
}

void PartitionApplier::run() {
  std::vector<LogMessage> messages;
  const auto pause_after = [this](const Status& status) {
    {
      const std::lock_guard lock(mutex_);
      last_error_ = status.message();
    }
    std::fprintf(stderr, "cluster: partition %u: %s\n", options_.partition,
                 status.message().c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  while (!stopping_.load()) {
    if (batch_failed_.load()) {
      // A batch did not commit: everything queued behind it fails too; once all of it has
      // come back, read again from what the store committed.
      wait_for_outstanding();
      batch_failed_.store(false);
      runtime_.resume_log(options_.partition);
      reader_.reset();
    }
    if (!reader_) {
      if (Status s = open_reader(); !s.ok()) {
        pause_after(s);
        continue;
      }
    }
    if (outstanding_.load() >= options_.outstanding_max) {
      std::unique_lock lock(mutex_);
      drained_.wait_for(lock, std::chrono::milliseconds(50), [this] {
        return outstanding_.load() < options_.outstanding_max || batch_failed_.load();
      });
      continue;
    }
    if (log_end_wanted_.exchange(false)) {
      uint64_t last = 0;
      std::string last_id;
      if (Status s = log_.last_message(subject_, last, last_id); s.ok()) {
        const std::lock_guard lock(mutex_);
        log_end_id_ = last_id;
        log_end_reached_.store(last_applied_id_ == last_id);
        log_end_known_.store(true);
      } else {
        log_end_wanted_.store(true);  // asked again next time round
        pause_after(s);
        continue;
      }
    }
    if (Status s = reader_->fetch(options_.fetch_max, options_.wait, messages); !s.ok()) {
      pause_after(s);  // the reader makes a new consumer from where it was
      continue;
    }
    if (!messages.empty()) {
      const std::lock_guard lock(mutex_);
      last_error_.clear();  // reading again
    }
    // Caught up: this fetch took all there was, and nothing failed.
    caught_up_.store(messages.size() < options_.fetch_max && !batch_failed_.load());
    reader_pending_.store(reader_->pending());
    for (LogMessage& message : messages) {
      LogPayload payload;
      if (Status s = decode_log_payload(message.data, payload); !s.ok()) {
        // Never skipped: every applier would have to skip it alike. Stop here and say so.
        pause_after(
            Status::error(Status::Code::corruption,
                          "message " + std::to_string(message.sequence) + ": " + s.message()));
        reader_.reset();
        break;
      }
      PartitionProgram program;
      if (const auto* activation = std::get_if<ProgramActivation>(&payload)) {
        if (Status s = prepare_program_(*activation, program); !s.ok()) {
          pause_after(Status::error(
              s.code(), "message " + std::to_string(message.sequence) + ": " + s.message()));
          reader_.reset();
          break;
        }
      }
      outstanding_.fetch_add(1);
      const uint64_t sequence = message.sequence;
      std::string msg_id = message.msg_id;
      auto done = [this, message = std::move(message)](EventResult&& result) mutable {
        if (result.storage.ok()) {
          // In log order (one writer thread per partition). Not a maximum: a reader that went
          // on where another replica numbers the log lower counts from there.
          const std::lock_guard lock(mutex_);
          applied_through_.store(message.sequence);
          last_applied_id_ = message.msg_id;
          if (message.msg_id == log_end_id_) log_end_reached_.store(true);
        } else {
          batch_failed_.store(true);
        }
        if (applied_) applied_(message, std::move(result));
        const std::lock_guard lock(mutex_);
        outstanding_.fetch_sub(1);
        drained_.notify_all();
      };
      if (auto* claim = std::get_if<ClaimAsk>(&payload)) {
        runtime_.apply_logged_claim(options_.partition, std::move(*claim), sequence,
                                    std::move(done), std::move(msg_id));
      } else if (auto* stock = std::get_if<StockAsk>(&payload)) {
        runtime_.apply_logged_stock(options_.partition, std::move(*stock), sequence,
                                    std::move(done), std::move(msg_id));
      } else if (program.version) {
        runtime_.apply_logged_program(options_.partition, std::move(program), sequence,
                                      std::move(done), std::move(msg_id));
      } else {
        runtime_.apply_logged(options_.partition, std::move(std::get<Event>(payload)), sequence,
                              std::move(done), std::move(msg_id));
      }
    }
  }
}

}  // namespace loyalty::cluster
