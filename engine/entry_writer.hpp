// Appends one event's ledger entries and notifications. balance_after runs from the member's
// total when the writer is made, so make it before the movements it records; the runtime
// checks that the last balance_after equals the member's total afterwards.
#pragma once

#include <string>

#include "engine/apply.hpp"
#include "engine/check.hpp"

namespace loyalty {

class EntryWriter {
 public:
  EntryWriter(MemberState& member, Effects& effects, uint32_t program_version, TimeMs at,
              std::string reference)
      : member_(member),
        effects_(effects),
        version_(program_version),
        at_(at),
        reference_(std::move(reference)),
        running_(member.balance.total()) {}

  void entry(EntryType type, Points points, std::string rule) {
    running_ += points;
    effects_.entries.push_back(LedgerEntry{member_.next_ledger_seq++, type, points, at_, reference_,
                                           std::move(rule), version_, running_});
  }

  // After the entry it tells of: the notification is stored with the event's newest entry.
  void notify(std::string type, Points points) {
    LOYALTY_CHECK(!effects_.entries.empty() &&
                  effects_.entries.back().seq + 1 == member_.next_ledger_seq);
    effects_.notifications.push_back(Notification{member_.next_notification_seq++, std::move(type),
                                                  points, reference_, at_,
                                                  effects_.entries.back().seq});
  }

 private:
  MemberState& member_;
  Effects& effects_;
  uint32_t version_;
  TimeMs at_;
  std::string reference_;
  Points running_;
};

}  // namespace loyalty
