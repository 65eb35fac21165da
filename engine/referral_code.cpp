// Referral code derivation: a 64-bit mix of the member id and the attempt number, spelled
// in a 31-letter alphabet (31^8 ≈ 8.5 × 10^11 codes).
#include "engine/referral_code.hpp"

namespace loyalty {
namespace {

constexpr std::string_view kAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

uint64_t mix(uint64_t x) {  // splitmix64 finaliser: spreads nearby ids apart
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::string referral_code_for(std::string_view member_id, uint32_t attempt) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : member_id) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h = mix(h ^ (uint64_t{attempt} * 0x9e3779b97f4a7c15ULL));
  std::string code(kReferralCodeLength, ' ');
  for (char& c : code) {
    c = kAlphabet[h % kAlphabet.size()];
    h /= kAlphabet.size();
  }
  return code;
}

std::string normalise_referral_code(std::string_view text) {
  if (text.size() != kReferralCodeLength) return {};
  std::string code(text);
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (kAlphabet.find(c) == std::string_view::npos) return {};
  }
  return code;
}

}  // namespace loyalty
