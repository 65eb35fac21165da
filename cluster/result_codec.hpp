// An event's result as one node sends it to another: the owner that applied an event answers
// the node that holds the client's request (cluster.md: every node serves the whole API). The
// answer travels as the storage layer's idempotency record (every answer kind already has a
// verified encoding there), a sign-up's member as its member record; notifications do not
// travel (the feed reaches subscribers on every node on its own way).
#pragma once

#include <string>
#include <string_view>

#include "engine/runtime/runtime.hpp"
#include "engine/status.hpp"

namespace loyalty::cluster {

std::string encode_result(const EventResult& result);
Status decode_result(std::string_view bytes, EventResult& out);

}  // namespace loyalty::cluster
