// Referral codes: short, in an alphabet without look-alike characters (no 0/O, 1/I/L),
// derived from the member id so that a replay of the event log reproduces them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loyalty {

inline constexpr size_t kReferralCodeLength = 8;

// `attempt` picks another code when an earlier one is taken by a different member.
std::string referral_code_for(std::string_view member_id, uint32_t attempt);
// Upper-cases and checks the alphabet; empty when the text cannot be a code.
std::string normalise_referral_code(std::string_view text);

}  // namespace loyalty
