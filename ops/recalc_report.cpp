// The recalculation report as JSON and CSV (README "loyaltyctl recalc" documents both).
#include <string>

#include "engine/time.hpp"
#include "ops/recalculation.hpp"
#include "ops/text_escape.hpp"

namespace loyalty::ops {
namespace {

std::string quoted(std::string_view text) { return "\"" + json_escape(text) + "\""; }

std::string optional_number(const std::optional<Points>& value) {
  return value ? std::to_string(*value) : "null";
}

void append_change(std::string& out, const RecalcChange& change) {
  out += "{\"member_id\":" + quoted(change.member_id);
  out += ",\"event_id\":" + quoted(change.event_id);
  out += ",\"occurred_at\":" + quoted(format_rfc3339(change.occurred_at));
  out += ",\"old_points\":" + std::to_string(change.old_points);
  out += ",\"new_points\":" + std::to_string(change.new_points);
  out += ",\"delta\":" + std::to_string(change.delta) + "}";
}

}  // namespace

std::string recalc_report_json(const RecalcReport& r) {
  std::string out = "{";
  out += "\"job_id\":" + quoted(r.job_id);
  out += ",\"mode\":" + quoted(r.applied ? "apply" : "dry_run");
  out += ",\"program\":" + quoted(r.program_label);
  out += ",\"program_version\":" + std::to_string(r.program_version);
  out += ",\"from\":" + quoted(format_rfc3339(r.from));
  out += ",\"to\":" + quoted(format_rfc3339(r.to));
  out += ",\"snapshot_log_seq\":" + std::to_string(r.log_seq);
  out += ",\"events_examined\":" + std::to_string(r.events_examined);
  out += ",\"events_changed\":" + std::to_string(r.events_changed);
  out += ",\"events_already_adjusted\":" + std::to_string(r.events_already_adjusted);
  out += ",\"members_affected\":" + std::to_string(r.members_affected);
  out += ",\"passes\":" + std::to_string(r.passes);
  out += ",\"total_delta\":" + std::to_string(r.total_delta);
  out += ",\"total_positive\":" + std::to_string(r.total_positive);
  out += ",\"total_negative\":" + std::to_string(r.total_negative);
  out += ",\"histogram\":[";
  for (size_t i = 0; i < r.histogram.size(); ++i) {
    const RecalcBucket& bucket = r.histogram[i];
    if (i > 0) out += ",";
    out += "{\"label\":" + quoted(bucket.label) + ",\"min\":" + optional_number(bucket.lower);
    // `max` is inclusive on the wire (upper is exclusive inside): easier to read.
    out += ",\"max\":" +
           optional_number(bucket.upper ? std::optional(*bucket.upper - 1) : std::nullopt);
    out += ",\"count\":" + std::to_string(bucket.count) + "}";
  }
  out += "],\"largest\":[";
  for (size_t i = 0; i < r.largest.size(); ++i) {
    if (i > 0) out += ",";
    append_change(out, r.largest[i]);
  }
  out += "]";
  if (r.applied) {
    out += ",\"adjustments_applied\":" + std::to_string(r.adjustments_applied);
    out += ",\"adjustments_replayed\":" + std::to_string(r.adjustments_replayed);
    out += ",\"adjustments_failed\":" + std::to_string(r.adjustments_failed);
    if (!r.first_failure.empty()) out += ",\"first_failure\":" + quoted(r.first_failure);
  }
  out += "}";
  return out;
}

std::string recalc_report_csv(const RecalcReport& r) {
  std::string out =
      "job_id,member_id,event_id,occurred_at,old_points,new_points,delta,adjustment_id\n";
  for (const RecalcChange& c : r.changes) {
    out += csv_field(r.job_id) + "," + csv_field(c.member_id) + "," + csv_field(c.event_id) + "," +
           format_rfc3339(c.occurred_at) + "," + std::to_string(c.old_points) + "," +
           std::to_string(c.new_points) + "," + std::to_string(c.delta) + "," +
           csv_field("recalc:" + r.job_id + ":" + c.event_id) + "\n";
  }
  return out;
}

}  // namespace loyalty::ops
