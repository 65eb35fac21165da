#include "webhooks/messages.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace loyalty::webhooks {
namespace {

namespace json = boost::json;

std::string body_of(std::string_view type, TimeMs at, json::object data) {
  return json::serialize(
      json::object{{"type", type}, {"timestamp", format_rfc3339(at)}, {"data", std::move(data)}});
}

json::value profile_value(const std::string& profile_json) {
  if (profile_json.empty()) return nullptr;
  boost::system::error_code error;
  json::value parsed = json::parse(profile_json, error);
  return error ? json::value(profile_json) : parsed;
}

json::value text_or_null(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

WebhookMessage message(const StoredEvent& event, uint32_t index, std::string_view type, TimeMs at,
                       json::object data) {
  WebhookMessage m;
  // Cluster mode numbers by the input log, the same on every node: a new owner of the partition
  // sends a message with the id its former owner sent it with.
  const uint64_t place = event.log_sequence != 0 ? event.log_sequence : event.log_seq;
  m.position = {place, index};
  m.log_seq = event.log_seq;
  m.id = "msg_" + std::to_string(place) + "_" + std::to_string(index);
  m.type = std::string(type);
  m.member_id = event.event.member_id();
  m.created_at = at;
  m.body = body_of(type, at, std::move(data));
  return m;
}

// What a change gave, as PATCH takes it (blank after an erasure).
json::object changes_of(const MemberUpdateEvent& e) {
  json::object changes;
  if (e.phone) changes["phone"] = text_or_null(*e.phone);
  if (e.card_no) changes["card_no"] = text_or_null(*e.card_no);
  if (e.profile_json) changes["profile"] = profile_value(*e.profile_json);
  if (e.blocked) changes["blocked"] = *e.blocked;
  return changes;
}

}  // namespace

bool known_message_type(std::string_view type) {
  return std::find(kMessageTypes.begin(), kMessageTypes.end(), type) != kMessageTypes.end();
}

void messages_of(const StoredEvent& event, const storage::EventHistory& history,
                 std::vector<WebhookMessage>& out) {
  out.clear();
  const std::string& member_id = event.event.member_id();
  uint32_t index = 0;
  if (const auto* signup = std::get_if<SignupEvent>(&event.event.body)) {
    const TimeMs joined = signup->joined_at.value_or(0);
    json::object data{{"member_id", member_id},
                      {"seq", 0},
                      {"joined_at", format_rfc3339(joined)},
                      {"referral_code", signup->assigned_referral_code},
                      {"referred_by", text_or_null(signup->referrer_member_id)},
                      {"phone", text_or_null(signup->phone)},
                      {"card_no", text_or_null(signup->card_no)},
                      {"profile", profile_value(signup->profile_json)}};
    out.push_back(message(event, index++, "member.created", joined, std::move(data)));
  }
  for (const Notification& note : history.notifications) {
    json::object data{{"member_id", member_id},
                      {"seq", note.seq},
                      {"points", note.points},
                      {"reference", note.reference}};
    const auto entry =
        std::find_if(history.entries.begin(), history.entries.end(),
                     [&note](const LedgerEntry& e) { return e.seq == note.entry_seq; });
    if (entry != history.entries.end()) data["balance_after"] = entry->balance_after;
    if (const auto* update = std::get_if<MemberUpdateEvent>(&event.event.body)) {
      const bool erasure = event.event.type() == EventType::member_erase;
      data[erasure ? "erased_by" : "changed_by"] = update->changed_by;
      if (!erasure) data["changes"] = changes_of(*update);
    }
    out.push_back(message(event, index++, note.type, note.at, std::move(data)));
  }
}

WebhookMessage job_message(uint64_t number, const JobRecord& job) {
  WebhookMessage m;
  m.position = {0, static_cast<uint32_t>(number)};
  m.id = "msg_job_" + std::to_string(number);
  m.type = job.state == JobState::succeeded ? "job.succeeded" : "job.failed";
  m.created_at = job.finished_at;
  json::object data{{"job_id", job.id},
                    {"job_type", job_type_name(job.type)},
                    {"state", job_state_name(job.state)},
                    {"requested_by", job.requested_by},
                    {"started_at", format_rfc3339(job.started_at)},
                    {"finished_at", format_rfc3339(job.finished_at)}};
  if (!job.result_json.empty()) {
    boost::system::error_code error;
    json::value result = json::parse(job.result_json, error);
    if (!error) data["result"] = std::move(result);
  }
  if (!job.error.empty()) data["error"] = job.error;
  m.body = body_of(m.type, job.finished_at, std::move(data));
  return m;
}

WebhookMessage test_message(std::string_view endpoint_id, TimeMs now, uint64_t number) {
  WebhookMessage m;
  m.id = "msg_test_" + std::to_string(now) + "_" + std::to_string(number);
  m.type = "webhook.test";
  m.created_at = now;
  m.body = body_of(m.type, now, json::object{{"endpoint_id", endpoint_id}});
  return m;
}

}  // namespace loyalty::webhooks
