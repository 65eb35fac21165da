// The realistic workload shared by every load generator mode: members chosen with Zipf skew,
// baskets of 1–20 lines over a small catalogue, refunds of earlier (committed) purchases,
// redemptions by members who just earned points, and new members signing up, half of them
// with a referral code (their first purchase then rewards both). Produces engine Events; each
// transport renders them (wire_format.hpp).
// Thread-safety: next() and populate_signup() from one thread (the driver's); committed() from
// any thread (completions).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/loadgen/zipf.hpp"
#include "engine/events.hpp"

namespace loyalty::bench {

struct WorkloadOptions {
  uint64_t members = 1'000'000;  // populated before the run, ids m-0 … m-(members-1)
  double skew = 0.99;            // Zipf exponent of member activity (0 = uniform)
  double refund_share = 0.05;    // of all events
  double redemption_share = 0.03;
  double signup_share = 0.01;   // new members during the run
  double referred_share = 0.5;  // of new members: sign up with an existing member's code
  uint32_t lines_max = 20;      // baskets have 1 to lines_max lines (mostly few)
  uint64_t seed = 42;
  std::string run_id = "r0";  // prefix of every id made in the run: unique per run and folder
};

// The id and phone of the index-th populated member.
std::string member_id_of(uint64_t index);
std::string phone_of(uint64_t index);
// Every tenth populated member signs up with the code of the member nine before it (one that
// is not referred itself, so it can sign up first).
bool is_referred(uint64_t index);

class Workload {
 public:
  explicit Workload(WorkloadOptions options, std::function<TimeMs()> clock);

  // The next event of the mix. `ticket` goes back to committed() when the event was applied,
  // so later refunds and redemptions only name purchases and members that exist.
  Event next(uint64_t& ticket);
  void committed(uint64_t ticket);

  // The sign-up of the index-th populated member: a phone, and a referral code when
  // is_referred(index).
  SignupEvent populate_signup(uint64_t index) const;

  const WorkloadOptions& options() const { return options_; }

 private:
  struct PurchaseSlot {
    std::string event_id;
    std::string member_id;
    AmountMinor total = 0;
    uint64_t ticket = 0;
  };
  struct SignupSlot {
    std::string member_id;
    uint64_t ticket = 0;
  };
  static constexpr size_t kRingSize = size_t{1} << 16;  // purchases remembered for refunds

  std::string next_id();
  std::string random_member();
  PurchaseEvent make_purchase(std::string member_id);
  bool try_refund(Event& out, uint64_t& ticket);
  bool try_redemption(Event& out);
  Event make_signup(uint64_t& ticket);

  WorkloadOptions options_;
  std::function<TimeMs()> clock_;
  std::mt19937_64 random_;
  ZipfSampler members_;
  ZipfSampler skus_;
  uint64_t sequence_ = 0;
  uint64_t purchases_made_ = 0;
  uint64_t refund_cursor_ = 0;
  uint64_t signups_made_ = 0;
  uint64_t signup_cursor_ = 0;
  std::unique_ptr<std::array<PurchaseSlot, kRingSize>> purchases_;
  std::unique_ptr<std::array<std::atomic<uint64_t>, kRingSize>> purchase_committed_;
  std::unique_ptr<std::array<SignupSlot, kRingSize>> signups_;
  std::unique_ptr<std::array<std::atomic<uint64_t>, kRingSize>> signup_committed_;
};

}  // namespace loyalty::bench
