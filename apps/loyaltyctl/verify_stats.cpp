// verify: every member's books balance (Σ ledger = available + pending + held = Σ lots − debt).
// stats: members per tier, the outstanding points liability and the active coupons'.
#include <iostream>
#include <map>

#include "apps/loyaltyctl/commands.hpp"
#include "engine/apply.hpp"

namespace loyalty::ctl {
namespace {

struct Breach {
  std::string member_id;
  Points ledger_sum = 0;
  Points balance_total = 0;
  bool lots_match = true;
};

}  // namespace

int run_verify(const Target& target) {
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  std::vector<Breach> breaches;
  size_t members = 0;
  Status read_error;
  Status status = store->scan_members([&](const MemberState& member) {
    ++members;
    Points ledger_sum = 0;
    std::optional<LedgerCursor> cursor;
    do {
      LedgerPage page;
      read_error = store->read_ledger(member.member_id, cursor, 500, page);
      if (!read_error.ok()) return false;
      for (const LedgerEntry& entry : page.entries) ledger_sum += entry.points;
      cursor = page.next_cursor;
    } while (cursor);
    if (!member_invariants_hold(member, ledger_sum)) {
      breaches.push_back(
          {member.member_id, ledger_sum, member.balance.total(), lots_match_balance(member)});
    }
    return true;
  });
  if (!status.ok() || !read_error.ok()) {
    std::cerr << "loyaltyctl verify: read failed: "
              << (status.ok() ? read_error.message() : status.message()) << "\n";
    return kExitProblemFound;
  }
  if (target.json) {
    std::cout << "{\"members_checked\":" << members << ",\"breaches\":[";
    for (size_t i = 0; i < breaches.size(); ++i) {
      const Breach& b = breaches[i];
      std::cout << (i ? "," : "") << "{\"member_id\":\"" << json_escape(b.member_id)
                << "\",\"ledger_sum\":" << b.ledger_sum << ",\"balance_total\":" << b.balance_total
                << ",\"lots_match\":" << (b.lots_match ? "true" : "false") << "}";
    }
    std::cout << "],\"ok\":" << (breaches.empty() ? "true" : "false") << "}\n";
  } else {
    for (const Breach& b : breaches) {
      std::cout << "BREACH " << b.member_id << ": ledger " << b.ledger_sum << ", balance "
                << b.balance_total << (b.lots_match ? "" : ", lots do not match") << "\n";
    }
    std::cout << members << " members checked, " << breaches.size() << " breaches\n";
  }
  return breaches.empty() ? kExitOk : kExitProblemFound;
}

int run_stats(const Target& target) {
  std::unique_ptr<RocksStore> store;
  if (int code = open_store(target.data_dir, store); code != kExitOk) return code;
  StoredPrograms programs;
  if (int code = load_programs(*store, target.data_dir, programs); code != kExitOk) return code;
  const Program& program = programs.versions.at(*programs.active)->program;
  size_t members = 0;
  Points available = 0, pending = 0, held = 0;
  std::map<std::string, size_t> per_tier;
  // "YYYY-MM" of the local month (the program's zone) whose end the points do not outlive: the
  // last month they can be spent in, so points that expire at midnight after 30 June are June's.
  std::map<std::string, Points> liability_by_month;  // or "never"
  size_t referred = 0, referees_rewarded = 0;
  // Coupons issued and not yet used, cancelled or expired, and the points spent on them: a
  // liability until the till honours them (by reward id).
  struct CouponFigures {
    size_t active = 0;
    Points points = 0;
  };
  CouponFigures coupons;
  std::map<std::string, CouponFigures> coupons_by_reward;
  Status status = store->scan_members([&](const MemberState& m) {
    for (const Coupon& coupon : m.coupons) {
      for (CouponFigures* figures : {&coupons, &coupons_by_reward[coupon.reward_id]}) {
        figures->active += 1;
        figures->points += coupon.points;
      }
    }
    ++members;
    available += m.balance.available;
    pending += m.balance.pending;
    held += m.balance.held;
    ++per_tier[program.tier_name(m.tier_index)];
    if (!m.referred_by.empty()) ++referred;
    if (!m.referee_reward_trigger.empty()) ++referees_rewarded;
    for (const Lot& lot : m.lots) {
      const std::string month =
          lot.expires_at == kTimeNever
              ? "never"
              : format_rfc3339(program.time_zone->local_of(lot.expires_at - 1)).substr(0, 7);
      liability_by_month[month] += lot.points_remaining;
    }
    return true;
  });
  if (!status.ok()) {
    std::cerr << "loyaltyctl stats: read failed: " << status.message() << "\n";
    return kExitProblemFound;
  }
  if (target.json) {
    std::cout << "{\"members\":" << members
              << ",\"points_outstanding\":{\"available\":" << available
              << ",\"pending\":" << pending << ",\"held\":" << held << "},\"members_per_tier\":{";
    bool first = true;
    for (const auto& [tier, count] : per_tier) {
      std::cout << (first ? "" : ",") << "\"" << json_escape(tier) << "\":" << count;
      first = false;
    }
    std::cout << "},\"liability_by_expiry_month\":{";
    first = true;
    for (const auto& [month, points] : liability_by_month) {
      std::cout << (first ? "" : ",") << "\"" << month << "\":" << points;
      first = false;
    }
    std::cout << "},\"referral_funnel\":{\"referred\":" << referred
              << ",\"first_purchase_rewarded\":" << referees_rewarded << "}"
              << ",\"coupons\":{\"active\":" << coupons.active
              << ",\"liability_points\":" << coupons.points << ",\"by_reward\":{";
    first = true;
    for (const auto& [reward_id, figures] : coupons_by_reward) {
      std::cout << (first ? "" : ",") << "\"" << json_escape(reward_id)
                << "\":{\"active\":" << figures.active << ",\"liability_points\":" << figures.points
                << "}";
      first = false;
    }
    std::cout << "}}}\n";
  } else {
    std::cout << "members: " << members << "\npoints outstanding: " << available + pending + held
              << " (available " << available << ", pending " << pending << ", held " << held
              << ")\nmembers per tier:\n";
    for (const auto& [tier, count] : per_tier) std::cout << "  " << tier << ": " << count << "\n";
    std::cout << "liability by expiry month:\n";
    for (const auto& [month, points] : liability_by_month) {
      std::cout << "  " << month << ": " << points << "\n";
    }
    std::cout << "referrals: " << referred << " referred, " << referees_rewarded
              << " rewarded on a first purchase\n";
    std::cout << "coupons active: " << coupons.active << " (liability " << coupons.points
              << " points)\n";
    for (const auto& [reward_id, figures] : coupons_by_reward) {
      std::cout << "  " << reward_id << ": " << figures.active << " (" << figures.points
                << " points)\n";
    }
  }
  return kExitOk;
}

}  // namespace loyalty::ctl
