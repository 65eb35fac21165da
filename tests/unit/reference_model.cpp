// The reference model's rules, each written from domain.md as plainly as possible. Choices the
// spec leaves open are marked "choice:" and follow docs/decisions.md or the engine's design.
#include "tests/unit/reference_model.hpp"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace loyalty::model {
namespace {

__extension__ typedef __int128 Wide;  // exact products; GCC/Clang extension

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

struct Civil {
  int64_t year = 1970;
  int month = 1;  // 1…12
  int day = 1;    // 1…31
};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = floor_div(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Civil civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int days_in_month(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

int64_t day_number(Ms t) { return floor_div(t, kDayMs); }

const char* kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::signup:
      return "signup";
    case OpKind::purchase:
      return "purchase";
    case OpKind::refund:
      return "refund";
    case OpKind::redeem:
      return "redeem";
    case OpKind::hold:
      return "hold";
    case OpKind::capture:
      return "capture";
    case OpKind::void_hold:
      return "void";
    case OpKind::adjust:
      return "adjust";
    case OpKind::expire:
      return "expire-job";
    case OpKind::evaluate:
      return "evaluate-tier-job";
    case OpKind::reward_redeem:
      return "reward-redeem";
    case OpKind::coupon_use:
      return "coupon-use";
    case OpKind::coupon_cancel:
      return "coupon-cancel";
  }
  return "?";
}

std::string time_text(Ms t) {
  const Civil c = civil_from_days(day_number(t));
  const int64_t in_day = t - day_number(t) * kDayMs;
  char buffer[48];
  std::snprintf(
      buffer, sizeof buffer, "%04lld-%02d-%02dT%02lld:%02lld:%02lldZ",
      static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(in_day / 3'600'000),
      static_cast<long long>(in_day / 60'000 % 60), static_cast<long long>(in_day / 1000 % 60));
  return buffer;
}

}  // namespace

Ms local_time_in(const std::string& zone, Ms instant) {
  if (zone == "UTC") return instant;
  const date::sys_time<std::chrono::milliseconds> time{std::chrono::milliseconds{instant}};
  return date::locate_zone(zone)->to_local(time).time_since_epoch().count();
}

Ms instant_in(const std::string& zone, Ms local) {
  if (zone == "UTC") return local;
  const date::local_time<std::chrono::milliseconds> time{std::chrono::milliseconds{local}};
  return date::locate_zone(zone)->to_sys(time, date::choose::earliest).time_since_epoch().count();
}

int64_t month_number(Ms t) {
  const Civil c = civil_from_days(day_number(t));
  return c.year * 12 + c.month - 1;
}

int iso_weekday_of(Ms t) {
  // 1970-01-01 was a Thursday (4).
  return static_cast<int>(floor_mod(day_number(t) + 3, 7)) + 1;
}

Ms plus_months(Ms t, int months) {
  const int64_t day = day_number(t);
  const Civil c = civil_from_days(day);
  const int64_t target = c.year * 12 + (c.month - 1) + months;
  const int64_t y = floor_div(target, 12);
  const int m = static_cast<int>(target - y * 12) + 1;
  const int d = std::min(c.day, days_in_month(y, m));
  return days_from_civil(y, m, d) * kDayMs + (t - day * kDayMs);
}

Ms start_of_month_after(Ms t, int months) {
  const int64_t target = month_number(t) + months + 1;
  const int64_t y = floor_div(target, 12);
  return days_from_civil(y, static_cast<int>(target - y * 12) + 1, 1) * kDayMs;
}

std::string describe(const Op& op) {
  std::string s = std::string(kind_name(op.kind)) + " " + op.member;
  if (!op.id.empty()) s += " id=" + op.id;
  if (!op.target.empty()) s += " target=" + op.target;
  if (!op.code.empty()) s += " issues=" + op.code;
  for (const std::string& code : op.coupons) s += " coupon=" + code;
  if (!op.referral_code.empty()) s += " code=" + op.referral_code;
  if (!op.referrer.empty()) s += " referrer=" + op.referrer;
  s += " at=" + time_text(op.at);
  switch (op.kind) {
    case OpKind::purchase:
      s += " store=" + op.store;
      if (op.currency != "CNY") s += " currency=" + op.currency;
      s += " lines=[";
      for (size_t i = 0; i < op.lines.size(); ++i) {
        if (i > 0) s += ", ";
        s += op.lines[i].sku + "/" + op.lines[i].category + ":" +
             std::to_string(op.lines[i].amount_minor);
      }
      s += "]";
      if (op.amount != 0) s += " redeem_points=" + std::to_string(op.amount);
      break;
    case OpKind::refund:
      s += " amount_minor=" + std::to_string(op.amount);
      break;
    case OpKind::redeem:
    case OpKind::adjust:
      s += " points=" + std::to_string(op.amount);
      break;
    case OpKind::hold:
      s += " points=" + std::to_string(op.amount);
      if (op.ttl_seconds) s += " ttl=" + std::to_string(*op.ttl_seconds);
      break;
    default:
      break;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Lots. A member's points are a flat list of lots; every balance is a sum over it.

int64_t Model::available(const Member& m) {
  int64_t free = 0;
  for (const Lot& lot : m.lots) {
    if (!lot.pending) free += lot.remaining - lot.held;
  }
  return free - m.debt;
}

Model::Lot* Model::find_lot(Member& m, uint64_t id) const {
  for (Lot& lot : m.lots) {
    if (lot.id == id) return &lot;
  }
  return nullptr;
}

// Earliest-expiring available lot with free points (the older one on a tie).
Model::Lot* Model::next_to_spend(Member& m) const {
  Lot* best = nullptr;
  for (Lot& lot : m.lots) {
    if (lot.pending || lot.remaining - lot.held <= 0) continue;
    if (best == nullptr || lot.expires_at < best->expires_at) best = &lot;
  }
  return best;
}

// choice: debt is repaid from the lot whose points just became free (credited, matured, released).
void Model::repay(Member& m, Lot& lot) const {
  const int64_t paid = std::min(m.debt, lot.remaining - lot.held);
  if (paid <= 0) return;
  lot.remaining -= paid;
  m.debt -= paid;
}

uint64_t Model::credit(Member& m, int64_t points, Ms at) const {
  Lot lot;
  lot.id = m.next_lot++;
  lot.remaining = points;
  // choice: every credit (earned, bonus, restored, adjusted) waits pending_days.
  lot.pending = rules_.pending_days > 0;
  lot.available_at = at + rules_.pending_days * kDayMs;
  switch (rules_.expiry) {
    case Rules::Expiry::never:
      lot.expires_at = kNeverMs;
      break;
    case Rules::Expiry::days:
      lot.expires_at = at + rules_.expiry_days * kDayMs;
      break;
    case Rules::Expiry::end_of_month:  // local midnight after the month's last day
      lot.expires_at = instant_in(
          rules_.time_zone,
          start_of_month_after(local_time_in(rules_.time_zone, at), rules_.expiry_months));
      break;
  }
  m.lots.push_back(lot);
  if (!lot.pending) repay(m, m.lots.back());
  return lot.id;
}

// Takes points from `first_lot` (if any, pending or not), then earliest-expiring available lots;
// the rest becomes debt (callers that must not create debt checked the balance first).
void Model::debit(Member& m, int64_t points, uint64_t first_lot) const {
  int64_t left = points;
  if (first_lot != 0) {
    if (Lot* lot = find_lot(m, first_lot)) {
      const int64_t take = std::min(left, lot->remaining - lot->held);
      if (take > 0) {
        lot->remaining -= take;
        left -= take;
      }
    }
  }
  while (left > 0) {
    Lot* lot = next_to_spend(m);
    if (lot == nullptr) break;
    const int64_t take = std::min(left, lot->remaining - lot->held);
    lot->remaining -= take;
    left -= take;
  }
  m.debt += left;
}

void Model::reserve(Member& m, Hold& hold) const {
  int64_t left = hold.points;
  while (left > 0) {
    Lot* lot = next_to_spend(m);
    if (lot == nullptr) throw std::logic_error("model: hold reserves more than is available");
    const int64_t take = std::min(left, lot->remaining - lot->held);
    lot->held += take;
    hold.takes.emplace_back(lot->id, take);
    left -= take;
  }
}

void Model::release(Member& m, const Hold& hold) const {
  for (const auto& [lot_id, points] : hold.takes) find_lot(m, lot_id)->held -= points;
  for (const auto& [lot_id, points] : hold.takes) repay(m, *find_lot(m, lot_id));
}

void Model::spend(Member& m, const Hold& hold) const {
  for (const auto& [lot_id, points] : hold.takes) {
    Lot* lot = find_lot(m, lot_id);
    lot->held -= points;
    lot->remaining -= points;
  }
}

// choice: every event brings the member to its own time first: holds past their time-out are
// released, pending lots that have matured become available, free points of lots past their
// date expire (held points never do). Entries carry the moment the thing happened.
void Model::advance(Member& m, Ms at) const {
  for (size_t i = 0; i < m.holds.size();) {
    if (m.holds[i].expires_at > at) {
      ++i;
      continue;
    }
    release(m, m.holds[i]);
    m.ledger.push_back({EntryType::hold_release, 0, m.holds[i].expires_at});
    m.holds.erase(m.holds.begin() + static_cast<std::ptrdiff_t>(i));
  }
  // choice: coupons past their date expire with the member's clock too, returning nothing.
  for (size_t i = 0; i < m.coupons.size();) {
    if (m.coupons[i].valid_until > at) {
      ++i;
      continue;
    }
    m.ledger.push_back({EntryType::coupon_expire, 0, m.coupons[i].valid_until});
    m.coupons.erase(m.coupons.begin() + static_cast<std::ptrdiff_t>(i));
  }
  for (Lot& lot : m.lots) {
    if (lot.pending && lot.available_at <= at) {
      lot.pending = false;
      repay(m, lot);
    }
  }
  for (Lot& lot : m.lots) {
    const int64_t free = lot.remaining - lot.held;
    if (lot.expires_at <= at && free > 0) {
      lot.remaining -= free;
      m.ledger.push_back({EntryType::expire, -free, lot.expires_at});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tiers

int64_t Model::qualifying_of(const Member& m, Ms as_of) const {
  const int64_t month = month_number(local_time_in(rules_.time_zone, as_of));
  const int64_t from =
      rules_.calendar_year ? month - floor_mod(month, 12) : month - rules_.window_months + 1;
  int64_t value = 0;
  for (const Activity& a : m.activity) {
    if (a.month >= from && a.month <= month) {
      switch (rules_.metric) {
        case Rules::Metric::spend:
          value += a.spend_minor;
          break;
        case Rules::Metric::base_points:
          value += a.base_points;
          break;
        case Rules::Metric::purchases:
          value += a.purchases;
          break;
      }
    }
  }
  return std::max<int64_t>(value, 0);
}

uint32_t Model::tier_for(int64_t value) const {
  uint32_t tier = 0;
  for (uint32_t i = 0; i < rules_.levels.size(); ++i) {
    if (rules_.levels[i].first <= value) tier = i;
  }
  return tier;
}

// ---------------------------------------------------------------------------------------------
// Operations. Each works on a copy of the member and stores it only when accepted.

Outcome Model::apply(const Op& op) {
  switch (op.kind) {
    case OpKind::signup:
      return signup(op);
    case OpKind::purchase:
      return purchase(op);
    case OpKind::refund:
      return refund(op);
    case OpKind::redeem:
      return redeem(op);
    case OpKind::hold:
      return hold(op);
    case OpKind::capture:
    case OpKind::void_hold:
      return settle(op);
    case OpKind::adjust:
      return adjust(op);
    case OpKind::expire:
      return expire(op);
    case OpKind::evaluate:
      return evaluate(op);
    case OpKind::reward_redeem:
      return reward_redeem(op);
    case OpKind::coupon_use:
    case OpKind::coupon_cancel:
      return coupon_action(op);
  }
  return {ErrorCode::invalid_request};
}

Outcome Model::signup(const Op& op) {
  if (members_.contains(op.member)) return {ErrorCode::member_exists};
  if (!op.referral_code.empty() && op.referrer.empty()) return {ErrorCode::unknown_referral_code};
  if (op.referrer == op.member) return {ErrorCode::unknown_referral_code};
  Member m;
  m.id = op.member;
  m.joined_at = op.at;
  m.referrer = op.referrer;
  m.tier_since = op.at;
  if (!m.referrer.empty() && rules_.referee_signup_points > 0) {
    credit(m, rules_.referee_signup_points, op.at);
    m.ledger.push_back({EntryType::referral_bonus, rules_.referee_signup_points, op.at});
  }
  members_[op.member] = std::move(m);
  return {};
}

Outcome Model::purchase(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  if (op.currency != rules_.currency) return {ErrorCode::currency_mismatch};
  advance(m, op.at);

  int64_t total = 0;
  for (const Line& line : op.lines) total += line.amount_minor;

  // Points as payment: by a hold the purchase captures, or redeem_points.
  const Hold* hold = nullptr;
  int64_t paid_points = op.amount;
  if (!op.target.empty()) {
    for (const Hold& h : m.holds) {
      if (h.id == op.target) hold = &h;
    }
    if (hold == nullptr) {
      return {holds_seen_.contains(op.target) ? ErrorCode::hold_not_active : ErrorCode::not_found};
    }
    if (paid_points != 0 && paid_points != hold->points) return {ErrorCode::invalid_request};
    paid_points = hold->points;
  } else if (paid_points > 0 &&
             (paid_points < rules_.min_points || paid_points % rules_.step_points != 0)) {
    return {ErrorCode::invalid_request};
  }
  int64_t paid_value = 0;
  if (paid_points > 0) {
    const int64_t max_value = total * rules_.max_redeem_percent / 100;
    const int64_t max_points = max_value * rules_.points_per_currency_unit / rules_.unit_minor;
    if (paid_points > max_points) return {ErrorCode::invalid_request};
    if (hold == nullptr && available(m) < paid_points) return {ErrorCode::insufficient_points};
    paid_value = paid_points * rules_.unit_minor / rules_.points_per_currency_unit;
  }

  // Eligible amount per line. choice (decisions.md): the value paid with points is taken off
  // pro rata by gross line amount, the last line with an amount taking the remainder; a basket
  // below min_order_minor has no eligible amount (and so no qualifying spend).
  const bool basket_earns = total >= rules_.min_order_minor;
  std::vector<int64_t> eligible(op.lines.size(), 0);
  int64_t eligible_total = 0;
  if (basket_earns) {
    size_t last = op.lines.size();
    for (size_t i = 0; i < op.lines.size(); ++i) {
      if (op.lines[i].amount_minor > 0) last = i;
    }
    int64_t paid_left = std::min(paid_value, total);
    for (size_t i = 0; i < op.lines.size(); ++i) {
      const int64_t amount = op.lines[i].amount_minor;
      int64_t share = 0;
      if (paid_value > 0 && amount > 0) {
        share = i == last ? paid_left
                          : static_cast<int64_t>(static_cast<Wide>(std::min(paid_value, total)) *
                                                 amount / total);
        paid_left -= share;
      }
      eligible[i] = op.lines[i].category == rules_.excluded_category
                        ? 0
                        : std::max<int64_t>(0, amount - share);
      eligible_total += eligible[i];
    }
  }

  // Points = round(Σ eligible × rate × line multiplier × campaigns × tier-before) + bonuses.
  // The campaign's days and hours are the store's local ones.
  const Ms store_time = local_time_in(
      op.store == "s-2" && !rules_.store_2_zone.empty() ? rules_.store_2_zone : rules_.time_zone,
      op.at);
  const int minute = static_cast<int>(floor_mod(store_time, kDayMs) / 60'000);
  const bool in_hours = rules_.weekend_hours.empty() ||
                        std::any_of(rules_.weekend_hours.begin(), rules_.weekend_hours.end(),
                                    [minute](const auto& span) {
                                      return span.first <= minute && minute < span.second;
                                    });
  const bool weekend = rules_.weekend_campaign && iso_weekday_of(store_time) >= 6 && in_hours;
  const bool fest_on =
      !rules_.fest_category.empty() && op.at >= rules_.fest_from && op.at < rules_.fest_until;
  const int64_t tier_tenths = rules_.tiers ? rules_.levels[m.tier].second : 10;
  Wide numerator = 0;
  for (size_t i = 0; i < op.lines.size(); ++i) {
    const std::string& category = op.lines[i].category;
    Wide term = eligible[i];
    term *= rules_.points_per_unit_tenths;
    term *= !rules_.doubled_category.empty() && category == rules_.doubled_category ? 20 : 10;
    term *= weekend ? 20 : 10;
    term *= fest_on && category == rules_.fest_category ? 15 : 10;
    term *= tier_tenths;
    numerator += term;
  }
  const Wide denominator = static_cast<Wide>(rules_.unit_minor) * 100'000;
  const auto round = [&](Wide n, Wide d) {
    return static_cast<int64_t>(rules_.round_nearest ? (2 * n + d) / (2 * d) : n / d);
  };
  int64_t rate = round(numerator, denominator);
  // "Earned base points": the eligible amount at the base rate alone, rounded the same way.
  const int64_t base_points =
      round(Wide{eligible_total} * rules_.points_per_unit_tenths, Wide{rules_.unit_minor} * 10);
  std::vector<int64_t> bonuses;  // in ledger order: campaign bonus, then milestones
  if (basket_earns && !rules_.bonus_store.empty() && op.store == rules_.bonus_store &&
      eligible_total > 0 && eligible_total >= rules_.bonus_min_minor) {
    bonuses.push_back(rules_.bonus_points);
  }
  for (const auto& [count, points] : rules_.milestones) {
    if (count == m.purchases + 1) bonuses.push_back(points);
  }
  int64_t earned = rate;
  for (int64_t b : bonuses) earned += b;
  if (rules_.cap_points && earned > *rules_.cap_points) {
    // choice (decisions.md): the cap trims bonuses first (the last first), then the rate part.
    int64_t over = earned - *rules_.cap_points;
    for (size_t i = bonuses.size(); i-- > 0 && over > 0;) {
      const int64_t cut = std::min(over, bonuses[i]);
      bonuses[i] -= cut;
      over -= cut;
    }
    rate -= over;
    earned = *rules_.cap_points;
  }

  // The coupons it names: all active ones of the member, or the sale is refused.
  std::vector<Coupon> used;
  for (const std::string& code : op.coupons) {
    auto c = std::find_if(m.coupons.begin(), m.coupons.end(),
                          [&](const Coupon& x) { return x.code == code; });
    if (c == m.coupons.end()) return {ErrorCode::coupon_not_active};
  }
  for (const std::string& code : op.coupons) {
    auto c = std::find_if(m.coupons.begin(), m.coupons.end(),
                          [&](const Coupon& x) { return x.code == code; });
    used.push_back(*c);
    m.coupons.erase(c);
    m.ledger.push_back({EntryType::coupon_use, 0, op.at});
  }

  // Pay first, then earn.
  if (hold != nullptr) {
    spend(m, *hold);
    m.ledger.push_back({EntryType::hold_capture, -hold->points, op.at});
    m.holds.erase(m.holds.begin() + (hold - m.holds.data()));
  } else if (paid_points > 0) {
    debit(m, paid_points, 0);
    m.ledger.push_back({EntryType::redeem, -paid_points, op.at});
  }
  Purchase record;
  record.id = op.id;
  record.member = op.member;
  record.at = op.at;
  record.earned = earned;
  record.redeemed = paid_points;
  record.total = total;
  record.eligible = eligible_total;
  record.base_points = base_points;
  record.coupons = std::move(used);
  for (size_t i = 0; i < op.lines.size(); ++i) {
    record.lines.push_back({op.lines[i].amount_minor, eligible[i], 0, 0});
  }
  if (earned > 0) {
    record.lot = credit(m, earned, op.at);
    if (rate != 0) m.ledger.push_back({EntryType::earn, rate, op.at});
    for (int64_t b : bonuses) {
      if (b > 0) m.ledger.push_back({EntryType::bonus, b, op.at});
    }
  }
  Outcome out;
  out.points_earned = earned;
  out.points_redeemed = paid_points;

  // A referee's first qualifying purchase within the window. choice: the referee is rewarded
  // even when the referrer has reached max_rewarded_referrals (that limit is the referrer's).
  const bool referral = !m.referrer.empty() && !m.referee_rewarded &&
                        eligible_total >= rules_.referral_min_minor && op.at >= m.joined_at &&
                        op.at < m.joined_at + rules_.referral_window_days * kDayMs;
  if (referral) {
    const int64_t reward = rules_.referee_first_purchase_points;
    if (reward > 0) {
      credit(m, reward, op.at);
      m.ledger.push_back({EntryType::referral_bonus, reward, op.at});
      out.points_earned += reward;
    }
    m.referee_rewarded = true;
    record.referral_trigger = true;
    record.referee_reward = reward;
  }

  m.purchases += 1;
  if (rules_.tiers) {
    m.activity.push_back(
        {month_number(local_time_in(rules_.time_zone, op.at)), eligible_total, base_points, 1});
    const uint32_t reached = tier_for(qualifying_of(m, op.at));
    if (reached > m.tier) {  // upgrade at once, straight to the highest tier reached
      m.tier = reached;
      m.tier_since = op.at;
      m.ledger.push_back({EntryType::tier_change, 0, op.at});
      out.tier_changed = true;
    }
  }
  const std::string referrer = m.referrer;
  found->second = std::move(m);
  if (!purchases_.contains(op.id)) purchase_order_.push_back(op.id);
  purchases_[op.id] = std::move(record);
  if (referral) reward_referrer(referrer, op.id, op.at);
  return out;
}

void Model::reward_referrer(const std::string& referrer, const std::string& trigger, Ms at) {
  Member& r = members_.at(referrer);
  advance(r, at);
  // choice: rewards that were clawed back do not count toward max_rewarded_referrals.
  uint32_t standing = 0;
  for (const Reward& reward : r.rewards) standing += reward.reversed ? 0 : 1;
  if (standing >= rules_.max_rewarded_referrals) return;
  if (rules_.referrer_points > 0) {
    credit(r, rules_.referrer_points, at);
    r.ledger.push_back({EntryType::referral_bonus, rules_.referrer_points, at});
  }
  r.rewards.push_back({trigger, rules_.referrer_points, false});
}

void Model::claw_back_referrer(const std::string& referrer, const std::string& trigger, Ms at) {
  Member& r = members_.at(referrer);
  advance(r, at);
  for (Reward& reward : r.rewards) {
    if (reward.trigger != trigger || reward.reversed) continue;
    reward.reversed = true;
    if (reward.points > 0) {
      debit(r, reward.points, 0);
      r.ledger.push_back({EntryType::referral_reversal, -reward.points, at});
    }
  }
}

Outcome Model::refund(const Op& op) {
  auto p_it = purchases_.find(op.target);
  if (p_it == purchases_.end()) return {ErrorCode::not_found};
  Purchase p = p_it->second;
  Member m = members_.at(p.member);
  advance(m, op.at);
  const int64_t left_total = p.total - p.refunded;
  if (op.amount > left_total) return {ErrorCode::refund_exceeds_purchase};

  // choice: a refund by amount is spread over the lines pro rata to what is left of each, the
  // last line with something left taking the rounding remainder. No line is ever refunded more
  // than its amount (a remainder the last line cannot take goes to the earlier lines).
  std::vector<int64_t> part(p.lines.size(), 0);
  size_t last = p.lines.size();
  for (size_t i = 0; i < p.lines.size(); ++i) {
    if (p.lines[i].amount > p.lines[i].refunded) last = i;
  }
  int64_t given = 0;
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const int64_t line_left = p.lines[i].amount - p.lines[i].refunded;
    if (i == last || line_left <= 0) continue;
    part[i] = static_cast<int64_t>(static_cast<Wide>(op.amount) * line_left / left_total);
    given += part[i];
  }
  if (last < p.lines.size()) {
    int64_t rest = op.amount - given;
    const int64_t last_left = p.lines[last].amount - p.lines[last].refunded;
    part[last] = std::min(rest, last_left);
    rest -= part[last];
    for (size_t i = 0; i < p.lines.size() && rest > 0; ++i) {
      const int64_t room = p.lines[i].amount - p.lines[i].refunded - part[i];
      const int64_t extra = std::min(rest, room);
      part[i] += extra;
      rest -= extra;
    }
  }

  // choice: a line's refunded eligible amount is floor(eligible × refunded / amount) of its
  // cumulative refunded amount, so a full refund in any number of parts takes back exactly the
  // eligible spend.
  int64_t eligible = 0;
  for (size_t i = 0; i < p.lines.size(); ++i) {
    if (part[i] == 0) continue;
    PurchaseLine& line = p.lines[i];
    const auto cumulative = [&line](int64_t refunded) {
      return static_cast<int64_t>(static_cast<Wide>(line.eligible) * refunded / line.amount);
    };
    const int64_t e = cumulative(line.refunded + part[i]) - cumulative(line.refunded);
    line.refunded += part[i];
    line.refunded_eligible += e;
    eligible += e;
  }
  const bool completes = p.refunded + op.amount == p.total;
  const int64_t reversed =
      completes        ? p.earned - p.reversed
      : p.eligible > 0 ? static_cast<int64_t>(static_cast<Wide>(p.earned) * eligible / p.eligible)
                       : 0;
  const int64_t restored =
      completes     ? p.redeemed - p.restored
      : p.total > 0 ? static_cast<int64_t>(static_cast<Wide>(p.redeemed) * op.amount / p.total)
                    : 0;

  if (reversed > 0) {
    debit(m, reversed, p.lot);  // the purchase's own lot first, then may go into debt
    m.ledger.push_back({EntryType::reverse, -reversed, op.at});
  }
  if (restored > 0) {
    credit(m, restored, op.at);
    m.ledger.push_back({EntryType::restore, restored, op.at});
  }
  bool claw_back = false;
  if (completes && p.referral_trigger && !p.referral_reversed) {
    p.referral_reversed = true;
    claw_back = true;
    if (p.referee_reward > 0) {
      debit(m, p.referee_reward, 0);
      m.ledger.push_back({EntryType::referral_reversal, -p.referee_reward, op.at});
    }
  }
  // The refund that completes the sale settles its coupons, each by its reward's rule.
  int64_t coupon_points = 0;
  if (completes) {
    for (const Coupon& c : p.coupons) {
      if (c.on_refund == Rules::OnRefund::restore) {
        m.coupons.push_back(c);  // active again, until its old date
        m.ledger.push_back({EntryType::coupon_restore, 0, op.at});
      } else if (c.on_refund == Rules::OnRefund::refund_points) {
        credit(m, c.points, op.at);
        m.ledger.push_back({EntryType::restore, c.points, op.at});
        coupon_points += c.points;
      }
    }
  }
  // choice: base points are taken back as floor(base × refunded eligible / eligible) of the
  // cumulative refunded eligible amount, which is exactly the base points on completion.
  int64_t refunded_eligible_total = 0;
  for (const PurchaseLine& line : p.lines) refunded_eligible_total += line.refunded_eligible;
  const int64_t base_target = p.eligible > 0
                                  ? static_cast<int64_t>(static_cast<Wide>(p.base_points) *
                                                         refunded_eligible_total / p.eligible)
                                  : 0;
  const int64_t base_back = base_target - p.base_taken_back;
  p.base_taken_back += base_back;
  if (rules_.tiers) {
    // Qualifying activity is taken back in the purchase's month; the tier moves only at the
    // next evaluation.
    m.activity.push_back({month_number(local_time_in(rules_.time_zone, p.at)), -eligible,
                          -base_back, completes ? -1 : 0});
  }
  p.refunded += op.amount;
  p.reversed += reversed;
  p.restored += restored;
  const std::string referrer = m.referrer;
  members_.at(p.member) = std::move(m);
  p_it->second = std::move(p);
  if (claw_back && !referrer.empty()) claw_back_referrer(referrer, op.target, op.at);
  Outcome out;
  out.points_reversed = reversed;
  out.points_restored = restored + coupon_points;
  return out;
}

const Rules::RewardRule* Model::reward_rule(const std::string& id) const {
  for (const Rules::RewardRule& rule : rules_.rewards) {
    if (rule.id == id) return &rule;
  }
  return nullptr;
}

// choice (decisions.md): the reasons in order: the member's limit for the local month, its
// points (or debt), then the stock, which only a member who could otherwise redeem takes.
Outcome Model::reward_redeem(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  advance(m, op.at);
  const Rules::RewardRule* rule = reward_rule(op.target);
  if (rule == nullptr) return {ErrorCode::not_found};
  const int64_t month = month_number(local_time_in(rules_.time_zone, op.at));
  auto& [limit_month, used] = m.limits[rule->id];
  if (limit_month != month) used = 0;
  limit_month = month;
  if (rule->monthly_max && used >= *rule->monthly_max) return {ErrorCode::member_limit_reached};
  if (m.debt > 0 || available(m) < rule->cost) return {ErrorCode::insufficient_points};
  if (rule->stock && stock_out_[rule->id] >= *rule->stock) return {ErrorCode::out_of_stock};
  debit(m, rule->cost, 0);
  m.ledger.push_back({EntryType::reward_redeem, -rule->cost, op.at});
  Coupon c{op.code,         rule->id,    rule->cost, op.at + rule->valid_days * kDayMs,
           rule->on_refund, std::nullopt};
  if (rule->monthly_max) {
    used += 1;
    c.month = month;
  }
  m.coupons.push_back(c);
  found->second = std::move(m);
  stock_out_[rule->id] += 1;
  coupons_issued_.emplace_back(op.code, op.member);
  coupon_member_[op.code] = op.member;
  return {};
}

Outcome Model::coupon_action(const Op& op) {
  const bool cancel = op.kind == OpKind::coupon_cancel;
  if (cancel && cancelled_.contains(op.target)) return {};  // a retry: answered again
  const auto owner = coupon_member_.find(op.target);
  if (owner == coupon_member_.end()) return {ErrorCode::not_found};
  Member m = members_.at(owner->second);
  advance(m, op.at);
  auto c = std::find_if(m.coupons.begin(), m.coupons.end(),
                        [&](const Coupon& x) { return x.code == op.target; });
  if (c == m.coupons.end()) return {ErrorCode::coupon_not_active};
  if (cancel) {
    credit(m, c->points, op.at);
    m.ledger.push_back({EntryType::reward_cancel, c->points, op.at});
    auto limit = m.limits.find(c->reward);
    if (c->month && limit != m.limits.end() && limit->second.first == *c->month &&
        limit->second.second > 0) {
      limit->second.second -= 1;
    }
    stock_out_[c->reward] -= 1;
    cancelled_.insert(op.target);
  } else {
    m.ledger.push_back({EntryType::coupon_use, 0, op.at});
  }
  m.coupons.erase(c);
  members_.at(owner->second) = std::move(m);
  return {};
}

Outcome Model::redeem(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  advance(m, op.at);
  if (op.amount < rules_.min_points || op.amount % rules_.step_points != 0) {
    return {ErrorCode::invalid_request};
  }
  if (m.debt > 0 || available(m) < op.amount) return {ErrorCode::insufficient_points};
  debit(m, op.amount, 0);
  m.ledger.push_back({EntryType::redeem, -op.amount, op.at});
  found->second = std::move(m);
  return {};
}

Outcome Model::hold(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  advance(m, op.at);
  if (op.amount < rules_.min_points || op.amount % rules_.step_points != 0) {
    return {ErrorCode::invalid_request};
  }
  for (const Hold& h : m.holds) {
    if (h.id == op.id) return {ErrorCode::idempotency_conflict};
  }
  if (m.debt > 0 || available(m) < op.amount) return {ErrorCode::insufficient_points};
  Hold h;
  h.id = op.id;
  h.points = op.amount;
  h.expires_at = op.at + int64_t{op.ttl_seconds.value_or(rules_.hold_ttl_seconds)} * 1000;
  reserve(m, h);
  m.ledger.push_back({EntryType::hold, 0, op.at});
  m.holds.push_back(std::move(h));
  found->second = std::move(m);
  if (!holds_seen_.contains(op.id)) hold_order_.push_back(op.id);
  holds_seen_[op.id] = op.member;
  return {};
}

Outcome Model::settle(const Op& op) {
  if (settled_.contains({op.kind, op.target})) return {};  // a retry: the same answer again
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  advance(m, op.at);
  auto h = std::find_if(m.holds.begin(), m.holds.end(),
                        [&](const Hold& x) { return x.id == op.target; });
  if (h == m.holds.end()) {
    return {holds_seen_.contains(op.target) ? ErrorCode::hold_not_active : ErrorCode::not_found};
  }
  if (op.kind == OpKind::capture) {
    spend(m, *h);
    m.ledger.push_back({EntryType::hold_capture, -h->points, op.at});
  } else {
    release(m, *h);
    m.ledger.push_back({EntryType::hold_release, 0, op.at});
  }
  m.holds.erase(h);
  found->second = std::move(m);
  settled_.insert({op.kind, op.target});
  return {};
}

Outcome Model::adjust(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  advance(m, op.at);
  if (op.amount > 0) {
    credit(m, op.amount, op.at);
  } else {
    debit(m, -op.amount, 0);  // an operator's correction may create debt
  }
  m.ledger.push_back({EntryType::adjust, op.amount, op.at});
  found->second = std::move(m);
  return {};
}

Outcome Model::expire(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member m = found->second;
  const size_t before = m.ledger.size();
  advance(m, op.at);
  Outcome out;
  for (size_t i = before; i < m.ledger.size(); ++i) {
    if (m.ledger[i].type == EntryType::expire) out.points_expired -= m.ledger[i].points;
  }
  found->second = std::move(m);
  return out;
}

// Tier evaluation looks at activity only (it expires nothing): a member below their tier's
// threshold who has held it at least retain_months drops to the highest tier met.
Outcome Model::evaluate(const Op& op) {
  auto found = members_.find(op.member);
  if (found == members_.end()) return {ErrorCode::not_found};
  Member& m = found->second;
  Outcome out;
  if (!rules_.tiers) return out;
  const uint32_t met = tier_for(qualifying_of(m, op.at));
  const Ms retained_until =
      instant_in(rules_.time_zone,
                 plus_months(local_time_in(rules_.time_zone, m.tier_since), rules_.retain_months));
  if (met < m.tier && retained_until <= op.at) {
    m.tier = met;
    m.tier_since = op.at;
    m.ledger.push_back({EntryType::tier_change, 0, op.at});
    out.tier_changed = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Views

std::vector<std::string> Model::member_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, m] : members_) ids.push_back(id);
  return ids;
}

Balances Model::balances(const std::string& member) const {
  const Member& m = members_.at(member);
  Balances b;
  b.available = available(m);
  for (const Lot& lot : m.lots) {
    if (lot.pending) b.pending += lot.remaining;
    b.held += lot.held;
  }
  return b;
}

int64_t Model::debt(const std::string& member) const { return members_.at(member).debt; }
uint32_t Model::tier(const std::string& member) const { return members_.at(member).tier; }
uint32_t Model::purchase_count(const std::string& member) const {
  return members_.at(member).purchases;
}

std::vector<std::string> Model::active_holds(const std::string& member) const {
  std::vector<std::string> ids;
  for (const Hold& h : members_.at(member).holds) ids.push_back(h.id);
  return ids;
}

int64_t Model::qualifying(const std::string& member, Ms as_of) const {
  return qualifying_of(members_.at(member), as_of);
}

const std::vector<Entry>& Model::ledger(const std::string& member) const {
  return members_.at(member).ledger;
}

int64_t Model::ledger_sum(const std::string& member) const {
  int64_t sum = 0;
  for (const Entry& e : members_.at(member).ledger) sum += e.points;
  return sum;
}

std::vector<Model::PurchaseInfo> Model::purchases() const {
  std::vector<PurchaseInfo> out;
  for (const std::string& id : purchase_order_) {
    const Purchase& p = purchases_.at(id);
    out.push_back({p.id, p.member, p.total, p.refunded});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Model::coupons() const { return coupons_issued_; }

std::vector<std::string> Model::active_coupons(const std::string& member) const {
  std::vector<std::string> codes;
  for (const Coupon& c : members_.at(member).coupons) codes.push_back(c.code);
  return codes;
}

int64_t Model::stock_out(const std::string& reward) const {
  const auto it = stock_out_.find(reward);
  return it == stock_out_.end() ? 0 : it->second;
}

std::vector<Model::HoldInfo> Model::holds() const {
  std::vector<HoldInfo> out;
  for (const std::string& id : hold_order_) {
    const std::string& member = holds_seen_.at(id);
    HoldInfo info{id, member, 0, false};
    for (const Hold& h : members_.at(member).holds) {
      if (h.id == id) {
        info.active = true;
        info.points = h.points;
      }
    }
    out.push_back(info);
  }
  return out;
}

}  // namespace loyalty::model
