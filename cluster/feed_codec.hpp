// A notification as the owner of its member's partition sends it to every node (core NATS,
// "<name>.feed.<partition>"), for their WebSocket subscribers: the member id and the
// notification, each field length-prefixed or fixed-width. Bytes that are not one are refused.
#pragma once

#include <string>
#include <string_view>

#include "engine/apply.hpp"
#include "engine/status.hpp"

namespace loyalty::cluster {

std::string encode_feed(std::string_view member_id, const Notification& notification);
Status decode_feed(std::string_view bytes, std::string& member_id, Notification& notification);

}  // namespace loyalty::cluster
