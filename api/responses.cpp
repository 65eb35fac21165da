// Serializing engine results to the API's JSON shapes: members, purchases, the ledger.
#include "api/responses.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>

namespace loyalty::api {
namespace json = boost::json;
// Tier and reward benefits are free-form JSON checked when the program was loaded; an
// unreadable value (which validation should make impossible) is shown as an empty object
// rather than failing the read.
json::value benefits_json(const std::string& text) {
  boost::system::error_code error;
  json::value value = json::parse(text, error);
  if (error || !value.is_object()) return json::object{};
  return value;
}

json::object balance_json(const Balance& balance) {
  return json::object{
      {"available", balance.available}, {"pending", balance.pending}, {"held", balance.held}};
}

json::object member_view_json(const MemberView& view) {
  const MemberState& member = *view.member;
  json::object body;
  body["member_id"] = member.member_id;
  body["joined_at"] = format_rfc3339(member.joined_at);
  body["tier"] = view.tier;
  body["tier_since"] = format_rfc3339(member.tier_since);
  body["benefits"] = benefits_json(view.tier_benefits_json);
  body["balance"] = balance_json(member.balance);
  body["lifetime_points"] = member.lifetime_points;
  body["purchase_count"] = member.purchase_count;
  body["blocked"] = member.blocked;
  if (member.erased_at != 0) body["erased_at"] = format_rfc3339(member.erased_at);
  if (view.qualifying) {
    const QualifyingProgress& q = *view.qualifying;
    json::object qualifying{{"metric", q.metric}, {"value", q.value}, {"window", q.window}};
    if (q.next_tier)
      qualifying["next_tier"] = *q.next_tier;
    else
      qualifying["next_tier"] = nullptr;
    qualifying["needed"] = q.needed;
    body["qualifying"] = std::move(qualifying);
  }
  body["referral_code"] = member.referral_code;
  if (member.referred_by.empty())
    body["referred_by"] = nullptr;
  else
    body["referred_by"] = member.referred_by;
  json::array expiring;
  for (const ExpiringPoints& row : view.expiring) {
    expiring.push_back(
        json::object{{"points", row.points}, {"expires_at", format_rfc3339(row.expires_at)}});
  }
  body["expiring"] = std::move(expiring);
  body["program_version"] = view.program_version;
  return body;
}

json::object purchase_response_json(const PurchaseEvent& purchase, const PurchaseAnswer& answer,
                                    bool replayed) {
  json::object body;
  body["event_id"] = purchase.event_id;
  body["member_id"] = purchase.member_id;
  body["points_earned"] = answer.points_earned;
  body["points_redeemed"] = answer.points_redeemed;
  body["breakdown"] = breakdown_json(answer.breakdown);
  body["balance"] = balance_json(answer.balance);
  body["tier"] = answer.tier;
  body["tier_changed"] = answer.tier_changed;
  body["replayed"] = replayed;
  return body;
}

json::array breakdown_json(const std::vector<BreakdownLine>& breakdown) {
  json::array out;
  for (const BreakdownLine& line : breakdown) {
    out.push_back(json::object{{"rule", line.rule}, {"points", line.points}});
  }
  return out;
}

json::object ledger_page_json(std::string_view member_id, const LedgerPage& page) {
  json::array entries;
  for (const LedgerEntry& entry : page.entries) {
    json::object row;
    row["id"] = std::string(member_id) + ":" + std::to_string(entry.seq);
    row["seq"] = entry.seq;
    row["type"] = entry_type_name(entry.type);
    row["points"] = entry.points;
    row["at"] = format_rfc3339(entry.at);
    row["reference"] = entry.reference;
    row["rule"] = entry.rule;
    row["program_version"] = entry.program_version;
    row["balance_after"] = entry.balance_after;
    // Who made it: an operator's key, a job; null for what members and tills do.
    row["actor"] = entry.actor.empty() ? json::value(nullptr) : json::value(entry.actor);
    entries.push_back(std::move(row));
  }
  json::object body;
  body["entries"] = std::move(entries);
  if (page.next_cursor)
    body["next_cursor"] = std::to_string(page.next_cursor->before_seq) + "-" +
                          std::to_string(page.next_cursor->log_seq);
  else
    body["next_cursor"] = nullptr;
  return body;
}

}  // namespace loyalty::api

namespace loyalty::api {

boost::json::object notifications_json(std::string_view member_id, uint64_t latest_seq,
                                       const std::vector<Notification>& notifications) {
  boost::json::array items;
  items.reserve(notifications.size());
  for (const Notification& n : notifications) {
    items.push_back(boost::json::object{{"seq", n.seq},
                                        {"type", n.type},
                                        {"points", n.points},
                                        {"reference", n.reference},
                                        {"at", format_rfc3339(n.at)}});
  }
  return boost::json::object{
      {"member_id", member_id}, {"latest_seq", latest_seq}, {"notifications", std::move(items)}};
}

bool parse_notifications_json(std::string_view body, uint64_t& latest_seq,
                              std::vector<Notification>& notifications) {
  try {
    const boost::json::object object = boost::json::parse(body).as_object();
    latest_seq = boost::json::value_to<uint64_t>(object.at("latest_seq"));
    notifications.clear();
    for (const boost::json::value& item : object.at("notifications").as_array()) {
      const boost::json::object& fields = item.as_object();
      Notification n;
      n.seq = boost::json::value_to<uint64_t>(fields.at("seq"));
      n.type = boost::json::value_to<std::string>(fields.at("type"));
      n.points = boost::json::value_to<Points>(fields.at("points"));
      n.reference = boost::json::value_to<std::string>(fields.at("reference"));
      const std::optional<TimeMs> at =
          parse_rfc3339(boost::json::value_to<std::string>(fields.at("at")));
      if (!at) return false;
      n.at = *at;
      notifications.push_back(std::move(n));
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace loyalty::api
