// The scheduler thread: catch-up at start, then a wait for the next due instant.
#include "ops/job_scheduler.hpp"

#include <algorithm>

namespace loyalty::ops {

JobScheduler::JobScheduler(std::vector<Schedule> schedules, Clock clock, ZoneSource zone,
                           Submit submit, Succeeded succeeded, std::chrono::milliseconds recheck)
    : schedules_(std::move(schedules)),
      clock_(std::move(clock)),
      zone_(std::move(zone)),
      submit_(std::move(submit)),
      succeeded_(std::move(succeeded)),
      recheck_(recheck),
      last_due_(schedules_.size(), kTimeNever) {}

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
  const TimeZonePtr zone = zone_();
  for (size_t i = 0; i < schedules_.size(); ++i) {
    const TimeMs due = latest_due(schedules_[i], *zone, now);
    if (!succeeded_(schedules_[i], due)) submit_(schedules_[i], due);
    last_due_[i] = due;
  }
}

void JobScheduler::run_due() {
  const TimeMs now = clock_();
  const TimeZonePtr zone = zone_();
  for (size_t i = 0; i < schedules_.size(); ++i) {
    const TimeMs due = latest_due(schedules_[i], *zone, now);
    // Later only: a new zone that puts the latest instant before the one already queued has
    // nothing new to run.
    if (last_due_[i] != kTimeNever && due <= last_due_[i]) continue;
    submit_(schedules_[i], due);
    last_due_[i] = due;
  }
}

TimeMs JobScheduler::next_instant() const {
  const TimeMs now = clock_();
  const TimeZonePtr zone = zone_();
  TimeMs earliest = kTimeNever;
  for (const Schedule& schedule : schedules_) {
    earliest = std::min(earliest, next_due(schedule, *zone, now));
  }
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
