// GET /v1/stats rendering (see stats_figures.hpp).
#include "api/stats_figures.hpp"

#include <string>

#include "api/handlers.hpp"
#include "api/problem.hpp"
#include "engine/ledger.hpp"

namespace loyalty::api {
namespace {

namespace json = boost::json;

HttpResponse refuse(std::string_view field, std::string message) {
  return problem_response(ErrorCode::invalid_request, std::move(message), field);
}

std::string day_text(int64_t day) { return format_rfc3339(day * kMsPerDay).substr(0, 10); }

std::string month_text(int64_t month) {
  const int64_t year = month / 12;
  const int64_t in_year = month % 12 + 1;
  std::string text = std::to_string(year);
  while (text.size() < 4) text.insert(text.begin(), '0');
  return text + (in_year < 10 ? "-0" : "-") + std::to_string(in_year);
}

// How the overview groups entry types: what members were given (net of refunds' reversals and
// of adjustments), what they spent (net of what refunds and cancellations gave back), and what
// lapsed. Every other type moves no points.
enum class PointsFlow { issued, redeemed, expired, none };

PointsFlow flow_of(EntryType type) {
  switch (type) {
    case EntryType::earn:
    case EntryType::bonus:
    case EntryType::referral_bonus:
    case EntryType::referral_reversal:
    case EntryType::reverse:
    case EntryType::adjust:
      return PointsFlow::issued;
    case EntryType::redeem:
    case EntryType::hold_capture:
    case EntryType::reward_redeem:
    case EntryType::reward_cancel:
    case EntryType::restore:
      return PointsFlow::redeemed;
    case EntryType::expire:
      return PointsFlow::expired;
    default:
      return PointsFlow::none;
  }
}

int64_t total_of(const StatTotals& totals, StatKind kind) {
  const auto it = totals.find(StatKey{kind});
  return it == totals.end() ? 0 : it->second;
}

json::array points_by_day(const StatTotals& totals, int64_t today, int64_t days) {
  json::array out;
  const int64_t first = today - days + 1;
  auto it = totals.lower_bound(StatKey{StatKind::day_points, first, 0});
  for (int64_t day = first; day <= today; ++day) {
    int64_t issued = 0;
    int64_t redeemed = 0;
    int64_t expired = 0;
    json::object by_type;
    for (; it != totals.end() && it->first.kind == StatKind::day_points && it->first.bucket == day;
         ++it) {
      const auto type = static_cast<EntryType>(it->first.detail);
      const int64_t points = it->second;
      if (points == 0) continue;
      by_type[entry_type_name(type)] = points;
      switch (flow_of(type)) {
        case PointsFlow::issued:
          issued += points;
          break;
        case PointsFlow::redeemed:
          redeemed -= points;
          break;
        case PointsFlow::expired:
          expired -= points;
          break;
        case PointsFlow::none:
          break;
      }
    }
    out.push_back(json::object{{"date", day_text(day)},
                               {"issued", issued},
                               {"redeemed", redeemed},
                               {"expired", expired},
                               {"by_type", std::move(by_type)}});
  }
  return out;
}

json::array tiers(const StatTotals& totals, const Program& program) {
  std::map<std::string, int64_t> other;  // indexes the active program has no tier for
  json::array out;
  const size_t levels = program.tiers ? program.tiers->levels.size() : 0;
  std::vector<int64_t> per_level(levels == 0 ? 1 : levels, 0);
  for (auto it = totals.lower_bound(StatKey{StatKind::tier, 0, 0});
       it != totals.end() && it->first.kind == StatKind::tier; ++it) {
    const auto index = static_cast<size_t>(it->first.bucket);
    if (index < per_level.size()) {
      per_level[index] += it->second;
    } else if (it->second != 0) {
      other["tier " + std::to_string(index)] += it->second;
    }
  }
  for (size_t i = 0; i < per_level.size(); ++i) {
    out.push_back(json::object{{"tier", program.tier_name(static_cast<uint32_t>(i))},
                               {"members", per_level[i]}});
  }
  for (const auto& [name, members] : other) {
    out.push_back(json::object{{"tier", name}, {"members", members}});
  }
  return out;
}

json::object liability(const StatTotals& totals) {
  json::array by_month;
  int64_t in_lots = 0;
  for (auto it = totals.lower_bound(StatKey{StatKind::liability, INT64_MIN, 0});
       it != totals.end() && it->first.kind == StatKind::liability; ++it) {
    if (it->second == 0) continue;
    in_lots += it->second;
    by_month.push_back(json::object{{"month", it->first.bucket == kNeverExpiresMonth
                                                  ? json::value(nullptr)
                                                  : json::value(month_text(it->first.bucket))},
                                    {"points", it->second}});
  }
  const int64_t debt = total_of(totals, StatKind::debt);
  return json::object{{"points_in_lots", in_lots},
                      {"debt", debt},
                      {"outstanding", in_lots - debt},
                      {"by_expiry_month", std::move(by_month)}};
}

// The active catalog's rewards with their coupons by state (issued: every one ever).
json::array reward_coupons(const StatTotals& totals, const Program& program) {
  json::array out;
  for (const Reward& reward : program.rewards) {
    const int64_t bucket = reward_bucket(reward.id);
    const auto count = [&](CouponState state) {
      const auto it =
          totals.find(StatKey{StatKind::reward_coupons, bucket, static_cast<uint8_t>(state)});
      return it == totals.end() ? int64_t{0} : it->second;
    };
    const int64_t active = count(CouponState::active);
    const int64_t used = count(CouponState::used);
    const int64_t expired = count(CouponState::expired);
    const int64_t cancelled = count(CouponState::cancelled);
    out.push_back(json::object{{"reward_id", reward.id},
                               {"issued", active + used + expired + cancelled},
                               {"active", active},
                               {"used", used},
                               {"expired", expired},
                               {"cancelled", cancelled}});
  }
  return out;
}

int64_t active_members(const StatTotals& totals, int64_t today) {
  int64_t active = 0;
  for (auto it = totals.lower_bound(
           StatKey{StatKind::last_purchase_day, today - kActiveMemberDays + 1, 0});
       it != totals.end() && it->first.kind == StatKind::last_purchase_day; ++it) {
    active += it->second;
  }
  return active;
}

}  // namespace

std::variant<StatsQuery, HttpResponse> parse_stats_query(boost::urls::params_view params,
                                                         bool forwarded) {
  StatsQuery query;
  for (const boost::urls::param param : params) {
    uint64_t number = 0;
    if (param.key == "days") {
      if (!parse_decimal(param.value, number) || number < 1 ||
          number > static_cast<uint64_t>(kStatsDaysMax)) {
        return refuse("days", "days must be an integer from 1 to 366");
      }
      query.days = static_cast<int64_t>(number);
    } else if (param.key == "partition" && forwarded) {
      if (!parse_decimal(param.value, number) || number > UINT32_MAX) {
        return refuse("partition", "partition must be a partition number");
      }
      query.partition = static_cast<uint32_t>(number);
    } else {
      return refuse(param.key, "unknown query parameter; use days");
    }
  }
  return query;
}

json::object stats_json(const StatTotals& totals, const Program& program, TimeMs now, int64_t days,
                        JobCounts jobs) {
  const int64_t today = local_day_number(*program.time_zone, now);
  return json::object{
      {"as_of", format_rfc3339(now)},
      {"currency", program.currency},
      {"time_zone", program.time_zone->name()},
      {"members", total_of(totals, StatKind::members)},
      {"active_members", active_members(totals, today)},
      {"active_days", kActiveMemberDays},
      {"tiers", tiers(totals, program)},
      {"points_by_day", points_by_day(totals, today, days)},
      {"liability", liability(totals)},
      {"coupons", json::object{{"active", total_of(totals, StatKind::coupons_active)},
                               {"points", total_of(totals, StatKind::coupon_points)}}},
      {"rewards", reward_coupons(totals, program)},
      {"jobs", json::object{{"running", jobs.running}, {"queued", jobs.queued}}},
  };
}

json::object counters_json(const StatTotals& totals) {
  json::array counters;
  for (const auto& [key, total] : totals) {
    counters.push_back(
        json::array{static_cast<int>(key.kind), key.bucket, static_cast<int>(key.detail), total});
  }
  return json::object{{"counters", std::move(counters)}};
}

bool add_counters(const json::value& body, StatTotals& into) {
  const json::object* object = body.if_object();
  const json::value* counters = object != nullptr ? object->if_contains("counters") : nullptr;
  if (counters == nullptr || !counters->is_array()) return false;
  for (const json::value& row : counters->as_array()) {
    const json::array* fields = row.if_array();
    if (fields == nullptr || fields->size() != 4) return false;
    for (const json::value& field : *fields) {
      if (!field.is_int64()) return false;
    }
    const int64_t kind = (*fields)[0].as_int64();
    const int64_t detail = (*fields)[2].as_int64();
    if (kind < 0 || kind > 255 || detail < 0 || detail > 255) return false;
    into[StatKey{static_cast<StatKind>(kind), (*fields)[1].as_int64(),
                 static_cast<uint8_t>(detail)}] += (*fields)[3].as_int64();
  }
  return true;
}

}  // namespace loyalty::api
