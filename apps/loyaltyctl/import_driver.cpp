// The import driver (see import_driver.hpp).
#include "apps/loyaltyctl/import_driver.hpp"

#include <algorithm>

#include "engine/referral_code.hpp"

namespace loyalty::ctl {
namespace {

Rejection refused(ErrorCode code, std::string field, std::string message) {
  return {code, std::move(field), std::move(message)};
}

Rejection storage_failed(const Status& status) {
  return refused(ErrorCode::unavailable, "",
                 "the data folder could not be read: " + status.message());
}

}  // namespace

struct Importer::RowState {
  ImportRow row;
  size_t next = 0;  // the event to submit next; events before it are done
  bool all_replayed = true;
  std::optional<Rejection> rejection;  // decided before anything was submitted
  bool submitted = false;
  bool end_follow_up = false;  // a pending follow-up applied after the last row
  // What this row registered while in flight, to take back when it settles.
  std::vector<std::string> purchase_ids;
  std::vector<std::string> hold_ids;
  size_t signups = 0;
};

void Importer::wait_until(const std::function<bool()>& ready) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, ready);
}

void Importer::prepare_signup(RowState& state, SignupEvent& signup) {
  if (!signup.assigned_referral_code.empty()) {
    const std::string code = normalise_referral_code(signup.assigned_referral_code);
    if (code.empty()) {
      state.rejection = refused(ErrorCode::invalid_request, "assigned_referral_code",
                                "assigned_referral_code must be 8 characters from "
                                "23456789ABCDEFGHJKMNPQRSTUVWXYZ");
      return;
    }
    const auto [it, inserted] = carried_codes_.try_emplace(code, signup.member_id);
    std::string owner;
    if (Status status = store_.find_identifier(IdentifierKind::referral_code, code, owner);
        !status.ok()) {
      state.rejection = storage_failed(status);
      return;
    }
    if ((!inserted && it->second != signup.member_id) ||
        (!owner.empty() && owner != signup.member_id)) {
      state.rejection = refused(ErrorCode::member_exists, "assigned_referral_code",
                                "another member has this referral code");
      return;
    }
    signup.assigned_referral_code = code;
  }
  if (!signup.referral_code.empty()) {
    // The referrer may be signing up right now, earlier in the file: the runtime looks the
    // code up in the store, so let those sign-ups land first.
    const std::string code = normalise_referral_code(signup.referral_code);
    std::string owner;
    if (!code.empty()) {
      if (Status status = store_.find_identifier(IdentifierKind::referral_code, code, owner);
          !status.ok()) {
        state.rejection = storage_failed(status);
        return;
      }
    }
    if (owner.empty()) wait_until([this] { return signups_in_flight_ == 0; });
  }
  if (signup.joined_at) {
    // An exported sign-up carries the time the server stamped on it; the member's sign-up
    // fingerprint was taken without it. The same sign-up is a replay, not a conflict.
    std::optional<MemberState> member;
    if (Status status = store_.load_member(signup.member_id, member); !status.ok()) {
      state.rejection = storage_failed(status);
      return;
    }
    if (member && member->joined_at == *signup.joined_at) {
      SignupEvent unstamped = signup;
      unstamped.joined_at.reset();
      if (member->signup_fingerprint == fingerprint(Event{std::move(unstamped)})) state.next = 1;
    }
  }
}

void Importer::prepare_follow_up(RowState& state, Event& event) {
  // The trigger, earlier in the file, must have committed for its follow-up to be pending.
  wait_until([this] { return in_flight_ == 0; });
  const auto& line = std::get<ReferralFollowUp>(event.body);
  const uint64_t wanted = fingerprint(event);
  std::vector<Event> pending;
  if (Status status = store_.load_outbox(pending); !status.ok()) {
    state.rejection = storage_failed(status);
    return;
  }
  for (Event& candidate : pending) {
    if (candidate.type() != event.type() ||
        std::get<ReferralFollowUp>(candidate.body).id != line.id) {
      continue;
    }
    if (fingerprint(candidate) != wanted) {
      state.rejection = refused(ErrorCode::idempotency_conflict, "id",
                                "the pending follow-up with this id differs from this line");
      return;
    }
    event = std::move(candidate);  // the engine's own follow-up, applied here in the order
    return;
  }
  std::optional<IdempotencyRecord> record;
  if (Status status = store_.load_idempotency(event.idempotency_key(), record); !status.ok()) {
    state.rejection = storage_failed(status);
    return;
  }
  if (record && record->fingerprint == wanted && record->member_id == line.member_id) {
    state.next = 1;  // applied before: a replay
  } else if (record) {
    state.rejection = refused(ErrorCode::idempotency_conflict, "id",
                              "a different follow-up with this id was applied");
  } else {
    state.rejection = refused(ErrorCode::not_found, "id",
                              "no referral follow-up with this id is pending: the engine makes "
                              "them from their trigger event, which must come earlier in the file");
  }
}

void Importer::prepare(RowState& state) {
  Event& first = state.row.events.front();
  if (auto* signup = std::get_if<SignupEvent>(&first.body)) {
    prepare_signup(state, *signup);
  } else if (auto* refund = std::get_if<RefundEvent>(&first.body)) {
    // A purchase still in flight is not in the store yet: naming its member queues the refund
    // behind it in the same partition (as a batch does).
    std::lock_guard lock(mutex_);
    if (auto it = purchases_in_flight_.find(refund->original_event_id);
        it != purchases_in_flight_.end()) {
      refund->member_id = it->second.first;
    }
  } else if (auto* action = std::get_if<HoldActionEvent>(&first.body)) {
    std::lock_guard lock(mutex_);
    if (auto it = holds_in_flight_.find(action->hold_id); it != holds_in_flight_.end()) {
      action->member_id = it->second.first;
    }
  } else if (first.type() == EventType::referral_reward ||
             first.type() == EventType::referral_reversal) {
    prepare_follow_up(state, first);
  }
}

void Importer::add(ImportRow row) {
  auto state = std::make_shared<RowState>();
  state->row = std::move(row);
  if (state->row.refused) {
    settle(*state, &*state->row.refused, 0);
    return;
  }
  prepare(*state);
  if (state->rejection) {
    settle(*state, &*state->rejection, 0);
    return;
  }
  if (state->next == state->row.events.size()) {
    settle(*state, nullptr, 0);  // replayed without going to the runtime
    return;
  }
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return in_flight_ < kImportInFlightMax; });
    ++in_flight_;
    state->submitted = true;
    for (const Event& event : state->row.events) {
      if (const auto* purchase = std::get_if<PurchaseEvent>(&event.body)) {
        auto& entry = purchases_in_flight_[purchase->event_id];
        entry.first = purchase->member_id;
        ++entry.second;
        state->purchase_ids.push_back(purchase->event_id);
      } else if (const auto* hold = std::get_if<HoldEvent>(&event.body)) {
        auto& entry = holds_in_flight_[hold->hold_id];
        entry.first = hold->member_id;
        ++entry.second;
        state->hold_ids.push_back(hold->hold_id);
      } else if (event.type() == EventType::signup) {
        ++signups_in_flight_;
        ++state->signups;
      }
    }
  }
  submit_next(state);
}

void Importer::submit_next(const std::shared_ptr<RowState>& state) {
  Event event = std::move(state->row.events[state->next]);
  runtime_.submit(std::move(event),
                  [this, state](EventResult&& result) { on_result(state, std::move(result)); });
}

void Importer::on_result(const std::shared_ptr<RowState>& state, EventResult&& result) {
  if (!result.rejection.ok()) {
    settle(*state, &result.rejection, state->next);
    return;
  }
  if (!result.replayed) state->all_replayed = false;
  if (++state->next < state->row.events.size()) {
    submit_next(state);  // the next event of the row: its member's opening balance
    return;
  }
  settle(*state, nullptr, 0);
}

void Importer::settle(RowState& state, const Rejection* rejection, size_t event_index) {
  std::lock_guard lock(mutex_);
  if (state.submitted) {
    --in_flight_;
    const auto release = [](auto& map, const std::string& id) {
      auto it = map.find(id);
      if (it != map.end() && --it->second.second == 0) map.erase(it);
    };
    for (const std::string& id : state.purchase_ids) release(purchases_in_flight_, id);
    for (const std::string& id : state.hold_ids) release(holds_in_flight_, id);
    signups_in_flight_ -= state.signups;
  }
  if (state.end_follow_up) {
    if (rejection == nullptr) {
      ++totals_.follow_ups_applied;
    } else {
      totals_.follow_up_failures.push_back(state.row.id + ": " +
                                           std::string(error_code_name(rejection->code)) + " " +
                                           rejection->field + ": " + rejection->message);
    }
  } else {
    ++totals_.rows;
    if (rejection != nullptr) {
      ++totals_.rejected;
      const Located at = locate(state.row, event_index, rejection->field);
      totals_.rejections.push_back({at.line, state.row.id,
                                    std::string(error_code_name(rejection->code)), at.field,
                                    relabel(rejection->message, rejection->field, at.field)});
    } else if (state.all_replayed) {
      ++totals_.replayed;
    } else {
      ++totals_.applied;
    }
  }
  changed_.notify_all();
}

ImportTotals Importer::finish() {
  wait_until([this] { return in_flight_ == 0; });
  // Follow-ups whose trigger was imported but whose place the file did not give (any file
  // that is not an export of this engine): applied now, in the order of their triggers' times.
  std::vector<Event> pending;
  if (Status status = store_.load_outbox(pending); !status.ok()) {
    std::lock_guard lock(mutex_);
    totals_.follow_up_failures.push_back("the outbox could not be read: " + status.message());
  }
  std::stable_sort(pending.begin(), pending.end(), [](const Event& a, const Event& b) {
    return std::get<ReferralFollowUp>(a.body).at < std::get<ReferralFollowUp>(b.body).at;
  });
  for (Event& follow_up : pending) {
    auto state = std::make_shared<RowState>();
    state->end_follow_up = true;
    state->row.id = std::get<ReferralFollowUp>(follow_up.body).id;
    state->row.events.push_back(std::move(follow_up));
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return in_flight_ < kImportInFlightMax; });
      ++in_flight_;
      state->submitted = true;
    }
    submit_next(state);
  }
  wait_until([this] { return in_flight_ == 0; });
  std::lock_guard lock(mutex_);
  std::stable_sort(totals_.rejections.begin(), totals_.rejections.end(),
                   [](const RejectedRow& a, const RejectedRow& b) { return a.line < b.line; });
  return totals_;
}

}  // namespace loyalty::ctl
