// Shared inputs of the micro-benchmarks: the shipped program (config/program.toml) and a
// realistic member: a year of weekly purchases (open lots, monthly tier buckets, platinum),
// referred by a friend, so that apply and the codecs work on the state they meet in
// production rather than on an empty member.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "engine/apply.hpp"

namespace loyalty::bench {

// 2026-11-20T10:15:00Z: "now" of every micro-benchmark event.
TimeMs micro_now();

// The shipped program as version 1 (parsed once).
const ProgramVersion& shipped_program();

// A purchase of `lines` lines at s-1 by `member_id`, occurring at micro_now().
PurchaseEvent micro_basket(size_t lines, std::string event_id, std::string member_id);

// The member after its sign-up and 52 weekly purchases of 3 lines up to micro_now(); the
// effects of the last purchase in `last_effects` when given.
const MemberState& realistic_member(Effects* last_effects = nullptr);

}  // namespace loyalty::bench
