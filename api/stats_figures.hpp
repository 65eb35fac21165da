// GET /v1/stats (api.md "Program figures"): the overview an operator opens first, rendered from
// the counters every commit keeps (engine/stats.hpp), so it costs the same with ten members or
// ten million. In cluster mode each partition's owner sends its partition's counters raw
// (`partition`, forwarded requests only) and the node that was asked adds them up and renders.
// Thread-safety: free functions.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/params_view.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <variant>

#include "api/http_message.hpp"
#include "engine/program.hpp"
#include "engine/stats.hpp"

namespace loyalty::api {

inline constexpr int64_t kStatsDaysDefault = 30;
inline constexpr int64_t kStatsDaysMax = 366;
inline constexpr int64_t kActiveMemberDays = 30;  // "active": a purchase in the last 30 days

struct StatsQuery {
  int64_t days = kStatsDaysDefault;   // of points_by_day, ending today (the program's zone)
  std::optional<uint32_t> partition;  // forwarded only: that partition's raw counters
};

// A refusal names the parameter; `partition` is taken only from a forwarded request.
std::variant<StatsQuery, HttpResponse> parse_stats_query(boost::urls::params_view params,
                                                         bool forwarded);

struct JobCounts {
  uint64_t running = 0;
  uint64_t queued = 0;
};

using StatTotals = std::map<StatKey, int64_t>;

// The figures as of `now`, in `program`'s zone, currency and tier names.
boost::json::object stats_json(const StatTotals& totals, const Program& program, TimeMs now,
                               int64_t days, JobCounts jobs);

// One partition's counters as a forwarded answer carries them, and back (false: not such a
// body); `add_counters` adds them to `into`.
boost::json::object counters_json(const StatTotals& totals);
bool add_counters(const boost::json::value& body, StatTotals& into);

}  // namespace loyalty::api
