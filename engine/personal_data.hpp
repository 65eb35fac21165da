// A member's personal data in events (api.md "POST /v1/members/{member_id}:erase"): the phone,
// card and profile a sign-up or a change carries, and the sign-up's fingerprint, a digest of
// them. An erasure blanks them wherever the event is kept: the data folder's log
// (storage/erasure.hpp) and, in cluster mode, the partition's input log.
#pragma once

#include "engine/events.hpp"

namespace loyalty {

// Whether the event holds any (a sign-up's or a change's non-empty phone, card or profile).
bool carries_personal_data(const Event& event);

// Blanks them; whether it held any. A change keeps which fields it gave (empty), so that its
// replay writes the same audit entry.
bool blank_personal_data(Event& event);

}  // namespace loyalty
