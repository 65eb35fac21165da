// The workload mix (see workload.hpp).
#include "bench/loadgen/workload.hpp"

#include <algorithm>

#include "engine/referral_code.hpp"

namespace loyalty::bench {
namespace {

// Tickets say what was committed: the kind in the top bits, the purchase or sign-up number + 1
// below (0 means "nothing to remember").
constexpr uint64_t kTicketPurchase = uint64_t{1} << 62;
constexpr uint64_t kTicketSignup = uint64_t{2} << 62;
constexpr uint64_t kTicketNumberMask = (uint64_t{1} << 62) - 1;

constexpr uint64_t kSkuCount = 200;
constexpr uint64_t kStoreCount = 20;
constexpr Points kRedemptionPoints = 100;  // the shipped program's min_points
// Refunds name purchases at least this many purchases back (and only committed ones): a
// refund soon after the sale, as at a till, without waiting on the sale's own batch.
constexpr uint64_t kRefundLagMin = 256;
constexpr uint64_t kSignupsWaitingMax = 64;

struct Category {
  const char* name;
  AmountMinor price_min;  // unit price range in minor units
  AmountMinor price_max;
};
constexpr std::array<Category, 4> kCategories = {{
    {"beverage", 1200, 4200},
    {"food", 800, 6800},
    {"merch", 5000, 30000},
    {"gift-card", 10000, 50000},
}};

// Most baskets are small: 60% have 1–3 lines, 30% 4–10, 10% 11–lines_max.
uint32_t basket_size(std::mt19937_64& random, uint32_t lines_max) {
  const uint64_t draw = random() % 10;
  uint32_t low = 1;
  uint32_t high = 3;
  if (draw >= 9) {
    low = 11;
    high = 20;
  } else if (draw >= 6) {
    low = 4;
    high = 10;
  }
  high = std::min(high, std::max<uint32_t>(lines_max, 1));
  low = std::min(low, high);
  return low + static_cast<uint32_t>(random() % (high - low + 1));
}

}  // namespace

std::string member_id_of(uint64_t index) { return "m-" + std::to_string(index); }

bool is_referred(uint64_t index) { return index % 10 == 9; }

std::string phone_of(uint64_t index) {
  std::string digits = std::to_string(index % 100'000'000);
  return "+86138" + std::string(8 - digits.size(), '0') + digits;
}

Workload::Workload(WorkloadOptions options, std::function<TimeMs()> clock)
    : options_(std::move(options)),
      clock_(std::move(clock)),
      random_(options_.seed),
      members_(options_.members, options_.skew),
      skus_(kSkuCount, 1.0),
      purchases_(std::make_unique<std::array<PurchaseSlot, kRingSize>>()),
      purchase_committed_(std::make_unique<std::array<std::atomic<uint64_t>, kRingSize>>()),
      signups_(std::make_unique<std::array<SignupSlot, kRingSize>>()),
      signup_committed_(std::make_unique<std::array<std::atomic<uint64_t>, kRingSize>>()) {}

std::string Workload::next_id() { return options_.run_id + "-" + std::to_string(sequence_++); }

std::string Workload::random_member() { return member_id_of(members_(random_)); }

SignupEvent Workload::populate_signup(uint64_t index) const {
  SignupEvent signup;
  signup.member_id = member_id_of(index);
  signup.phone = phone_of(index);
  if (is_referred(index)) signup.referral_code = referral_code_for(member_id_of(index - 9), 0);
  return signup;
}

PurchaseEvent Workload::make_purchase(std::string member_id) {
  PurchaseEvent purchase;
  purchase.event_id = next_id();
  purchase.member_id = std::move(member_id);
  purchase.store_id = "s-" + std::to_string(random_() % kStoreCount + 1);
  purchase.occurred_at = clock_() - kMsPerSecond;
  purchase.currency = "CNY";
  const uint32_t lines = basket_size(random_, options_.lines_max);
  purchase.lines.reserve(lines);
  for (uint32_t i = 0; i < lines; ++i) {
    const uint64_t sku = skus_(random_);
    // The best seller is the shipped program's latte-l (its SKU multiplier applies).
    const Category& category = sku == 0 ? kCategories[0] : kCategories[sku % kCategories.size()];
    const AmountMinor unit_price =
        category.price_min +
        static_cast<AmountMinor>((sku * 7919) %
                                 static_cast<uint64_t>(category.price_max - category.price_min));
    const int64_t quantity = 1 + static_cast<int64_t>(random_() % 3 == 0 ? random_() % 3 : 0);
    purchase.lines.push_back({sku == 0 ? "latte-l" : "sku-" + std::to_string(sku), category.name,
                              quantity, unit_price * quantity});
  }
  return purchase;
}

bool Workload::try_refund(Event& out, uint64_t& ticket) {
  if (purchases_made_ < kRefundLagMin) return false;
  // Oldest not yet refunded first, but never further back than the ring remembers.
  const uint64_t newest_allowed = purchases_made_ - kRefundLagMin;
  if (newest_allowed >= kRingSize / 2 && refund_cursor_ < newest_allowed - kRingSize / 2) {
    refund_cursor_ = newest_allowed - kRingSize / 2;
  }
  if (refund_cursor_ > newest_allowed) return false;
  const uint64_t number = refund_cursor_;
  const PurchaseSlot& slot = (*purchases_)[number % kRingSize];
  ++refund_cursor_;
  if ((*purchase_committed_)[number % kRingSize].load(std::memory_order_acquire) != number + 1) {
    return false;  // refused or not answered yet: refund another one next time
  }
  RefundEvent refund;
  refund.event_id = next_id();
  refund.original_event_id = slot.event_id;
  refund.occurred_at = clock_() - kMsPerSecond;
  // A third are full refunds, the rest give back 10–90% of the basket.
  const uint64_t draw = random_() % 3;
  refund.amount_minor =
      draw == 0 ? slot.total
                : std::max<AmountMinor>(
                      1, slot.total * static_cast<AmountMinor>(10 + random_() % 81) / 100);
  out = Event{std::move(refund)};
  ticket = 0;
  return true;
}

bool Workload::try_redemption(Event& out) {
  if (purchases_made_ == 0) return false;
  // A member who bought something a moment ago has points to spend.
  const uint64_t back = std::min<uint64_t>(purchases_made_, 256);
  const uint64_t number = purchases_made_ - 1 - random_() % back;
  if ((*purchase_committed_)[number % kRingSize].load(std::memory_order_acquire) != number + 1) {
    return false;
  }
  RedemptionEvent redemption;
  redemption.redemption_id = next_id();
  redemption.member_id = (*purchases_)[number % kRingSize].member_id;
  redemption.points = kRedemptionPoints;
  redemption.reward_id = "drink";
  out = Event{std::move(redemption)};
  return true;
}

Event Workload::make_signup(uint64_t& ticket) {
  SignupEvent signup;
  signup.member_id = "n" + options_.run_id + "-" + std::to_string(signups_made_);
  if (std::uniform_real_distribution<double>(0, 1)(random_) < options_.referred_share) {
    signup.referral_code = referral_code_for(random_member(), 0);
  }
  SignupSlot& slot = (*signups_)[signups_made_ % kRingSize];
  slot.member_id = signup.member_id;
  slot.ticket = kTicketSignup | (signups_made_ + 1);
  ticket = slot.ticket;
  ++signups_made_;
  return Event{std::move(signup)};
}

Event Workload::next(uint64_t& ticket) {
  ticket = 0;
  const double draw = std::uniform_real_distribution<double>(0, 1)(random_);
  Event event;
  if (draw < options_.refund_share) {
    if (try_refund(event, ticket)) return event;
  } else if (draw < options_.refund_share + options_.redemption_share) {
    if (try_redemption(event)) return event;
  } else if (draw < options_.refund_share + options_.redemption_share + options_.signup_share) {
    return make_signup(ticket);
  }
  // A purchase: a new member's first one when one has joined, else a Zipf-chosen member.
  std::string member;
  if (signup_cursor_ < signups_made_ && (*signup_committed_)[signup_cursor_ % kRingSize].load(
                                            std::memory_order_acquire) == signup_cursor_ + 1) {
    member = (*signups_)[signup_cursor_ % kRingSize].member_id;
    ++signup_cursor_;
  } else {
    // A sign-up still unanswered this far back was refused: its member never buys.
    if (signups_made_ - signup_cursor_ > kSignupsWaitingMax) ++signup_cursor_;
    member = random_member();
  }
  PurchaseEvent purchase = make_purchase(std::move(member));
  PurchaseSlot& slot = (*purchases_)[purchases_made_ % kRingSize];
  slot.event_id = purchase.event_id;
  slot.member_id = purchase.member_id;
  slot.total = 0;
  for (const PurchaseLine& line : purchase.lines) slot.total += line.amount_minor;
  ticket = kTicketPurchase | (purchases_made_ + 1);
  ++purchases_made_;
  return Event{std::move(purchase)};
}

void Workload::committed(uint64_t ticket) {
  const uint64_t number = ticket & kTicketNumberMask;
  if (number == 0) return;
  auto& flags =
      (ticket & ~kTicketNumberMask) == kTicketPurchase ? *purchase_committed_ : *signup_committed_;
  flags[(number - 1) % kRingSize].store(number, std::memory_order_release);
}

}  // namespace loyalty::bench
