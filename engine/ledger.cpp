// Names of ledger entry types, as they appear on the wire.
#include "engine/ledger.hpp"

namespace loyalty {

std::string_view entry_type_name(EntryType type) {
  switch (type) {
    case EntryType::earn:
      return "earn";
    case EntryType::bonus:
      return "bonus";
    case EntryType::referral_bonus:
      return "referral_bonus";
    case EntryType::referral_reversal:
      return "referral_reversal";
    case EntryType::redeem:
      return "redeem";
    case EntryType::hold:
      return "hold";
    case EntryType::hold_release:
      return "hold_release";
    case EntryType::hold_capture:
      return "hold_capture";
    case EntryType::reverse:
      return "reverse";
    case EntryType::restore:
      return "restore";
    case EntryType::expire:
      return "expire";
    case EntryType::adjust:
      return "adjust";
    case EntryType::tier_change:
      return "tier_change";
    case EntryType::reward_redeem:
      return "reward_redeem";
    case EntryType::reward_cancel:
      return "reward_cancel";
    case EntryType::coupon_use:
      return "coupon_use";
    case EntryType::coupon_expire:
      return "coupon_expire";
    case EntryType::coupon_restore:
      return "coupon_restore";
    case EntryType::member_update:
      return "member_update";
    case EntryType::member_erase:
      return "member_erase";
  }
  return "unknown";
}

}  // namespace loyalty
