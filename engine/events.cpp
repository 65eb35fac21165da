// Event accessors and the canonical fingerprint used for idempotency.
#include "engine/events.hpp"

#include <cstring>

namespace loyalty {
namespace {

// FNV-1a, 64 bit, over length-prefixed fields: simple, stable across builds and platforms.
class Fingerprinter {
 public:
  void add(std::string_view text) {
    add(static_cast<uint64_t>(text.size()));
    for (char c : text) byte(static_cast<uint8_t>(c));
  }
  void add(uint64_t value) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(value >> (8 * i)));
  }
  void add(int64_t value) { add(static_cast<uint64_t>(value)); }
  uint64_t digest() const { return state_; }

 private:
  void byte(uint8_t b) {
    state_ ^= b;
    state_ *= 0x100000001b3ULL;
  }
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace

EventType Event::type() const {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SignupEvent>)
          return EventType::signup;
        else
          return EventType::purchase;
      },
      body);
}

const std::string& Event::member_id() const {
  return std::visit([](const auto& e) -> const std::string& { return e.member_id; }, body);
}

std::string Event::idempotency_key() const {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SignupEvent>)
          return "m:" + e.member_id;
        else
          return "e:" + e.event_id;
      },
      body);
}

uint64_t fingerprint(const Event& event) {
  Fingerprinter f;
  f.add(static_cast<uint64_t>(event.type()));
  std::visit(
      [&f](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, SignupEvent>) {
          f.add(e.member_id);
          f.add(e.referral_code);
          f.add(e.joined_at.has_value() ? uint64_t{1} : uint64_t{0});
          f.add(e.joined_at.value_or(0));
          f.add(e.phone);
          f.add(e.card_no);
          f.add(e.profile_json);
        } else {
          f.add(e.event_id);
          f.add(e.member_id);
          f.add(e.store_id);
          f.add(e.occurred_at);
          f.add(e.currency);
          f.add(static_cast<uint64_t>(e.lines.size()));
          for (const PurchaseLine& line : e.lines) {
            f.add(line.sku);
            f.add(line.category);
            f.add(line.quantity);
            f.add(line.amount_minor);
          }
          f.add(e.redeem_points);
          f.add(e.hold_id);
        }
      },
      event.body);
  return f.digest();
}

}  // namespace loyalty
