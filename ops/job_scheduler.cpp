// The scheduler thread: catch-up at start, then a wait for the next due instant.
#include "ops/job_scheduler.hpp"

#include <algorithm>

namespace loyalty::ops {

JobScheduler::JobScheduler(std::vector<Schedule> schedules, Clock clock, Submit submit,
                           Succeeded succeeded, std::chrono::milliseconds recheck)
    : schedules_(std::move(schedules)),
      clock_(std::move(clock)),
      submit_(std::move(submit)),
      succeeded_(std::move(succeeded)),
      recheck_(recheck),
      next_(schedules_.size(), kTimeNever) {}

JobScheduler::~JobScheduler() { stop(); }

void JobScheduler::start() {
  catch_up();
  if (schedules_.empty()) return;  // nothing will ever be due: no thread
  thread_ = std::thread([this] { loop(); });
}

void JobScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobScheduler::catch_up() {
  const TimeMs now = clock_();
  for (size_t i = 0; i < schedules_.size(); ++i) {
    const TimeMs due = latest_due(schedules_[i], now);
    if (!succeeded_(schedules_[i], due)) submit_(schedules_[i], due);
    next_[i] = next_due(schedules_[i], now);
  }
}

void JobScheduler::run_due() {
  const TimeMs now = clock_();
  for (size_t i = 0; i < schedules_.size(); ++i) {
    if (next_[i] > now) continue;
    submit_(schedules_[i], latest_due(schedules_[i], now));
    next_[i] = next_due(schedules_[i], now);
  }
}

TimeMs JobScheduler::next_instant() const {
  TimeMs earliest = kTimeNever;
  for (TimeMs next : next_) earliest = std::min(earliest, next);
  return earliest;
}

void JobScheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const TimeMs wait_ms = std::max<TimeMs>(0, next_instant() - clock_());
    const auto wait =
        std::min<std::chrono::milliseconds>(std::chrono::milliseconds(wait_ms), recheck_);
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) break;
    lock.unlock();
    run_due();
    lock.lock();
  }
}

}  // namespace loyalty::ops
