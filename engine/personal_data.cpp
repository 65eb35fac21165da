#include "engine/personal_data.hpp"

#include <optional>
#include <string>

namespace loyalty {
namespace {

bool held(const std::string& value) { return !value.empty(); }
bool held(const std::optional<std::string>& value) { return value && !value->empty(); }

// Blanks a value; whether it held anything.
bool blank(std::string& value) {
  const bool was = held(value);
  value.clear();
  return was;
}

bool blank(std::optional<std::string>& value) { return value && blank(*value); }

}  // namespace

bool carries_personal_data(const Event& event) {
  if (const auto* signup = std::get_if<SignupEvent>(&event.body)) {
    return held(signup->phone) || held(signup->card_no) || held(signup->profile_json);
  }
  const auto* update = std::get_if<MemberUpdateEvent>(&event.body);
  if (update == nullptr || event.type() != EventType::member_update) return false;
  return held(update->phone) || held(update->card_no) || held(update->profile_json);
}

bool blank_personal_data(Event& event) {
  if (auto* signup = std::get_if<SignupEvent>(&event.body)) {
    bool was = blank(signup->phone);
    was |= blank(signup->card_no);
    was |= blank(signup->profile_json);
    was |= signup->request_fingerprint != 0;
    signup->request_fingerprint = 0;
    return was;
  }
  auto* update = std::get_if<MemberUpdateEvent>(&event.body);
  if (update == nullptr || event.type() != EventType::member_update) return false;
  bool was = blank(update->phone);
  was |= blank(update->card_no);
  was |= blank(update->profile_json);
  return was;
}

}  // namespace loyalty
