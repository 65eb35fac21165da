// Where a WebSocket session reads a member's feed when it subscribes (the newest seq, then
// what the subscriber missed). Single mode reads the node's store; cluster mode
// (api/cluster_reads.hpp) reads it there only while this node serves the member's partition,
// and otherwise asks the partition's owner (GET /v1/members/{id}/notifications, forwarded),
// blocking the calling thread until it answers or the wait (lease + 5 s) ends.
// Thread-safety: from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/apply.hpp"
#include "engine/status.hpp"

namespace loyalty::api {

class FeedReads {
 public:
  virtual ~FeedReads() = default;
  // The member's newest notification seq (0: none yet); nullopt when there is no such member.
  virtual Status latest_seq(const std::string& member_id, std::optional<uint64_t>& latest) = 0;
  // Notifications with seq > after_seq, oldest first, at most `limit`.
  virtual Status notifications(const std::string& member_id, uint64_t after_seq, size_t limit,
                               std::vector<Notification>& out) = 0;
};

}  // namespace loyalty::api
