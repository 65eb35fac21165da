// What a message of a partition's log carries (the data of a JetStream message): one byte of
// kind, then the body. An event is the storage layer's verified FlatBuffers event record (the
// same bytes the outbox keeps), stamped by the node that accepted it, so every applier decides
// it alike; a program activation names the version to activate at that point of the log; a
// claim asks for a key in its home partition (docs/decisions.md "Claims").
// Bytes that do not decode are refused as corruption, never half applied.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "engine/claim_keys.hpp"
#include "engine/events.hpp"
#include "engine/status.hpp"

namespace loyalty::cluster {

// The rules the log's events are decided under from here on: the activation's cluster-wide
// number (etcd gives it, cluster/program_activations.hpp), the version and its TOML text (so a
// node that never saw the version stores it from the log alone), and when it was activated.
struct ProgramActivation {
  uint64_t activation = 0;
  uint32_t version = 0;
  TimeMs activated_at = 0;
  std::string source_toml;
  bool operator==(const ProgramActivation&) const = default;
};

// A claim (engine/runtime ClaimAsk) travels as its key and member, each length-prefixed; a
// stock ask (StockAsk) as its move's byte, then its reward id and code.
using LogPayload = std::variant<Event, ProgramActivation, ClaimAsk, StockAsk>;

std::string encode_log_payload(const LogPayload& payload);

// The partition whose log a message belongs in: its event's member's, its claim key's or its
// reward's home; nullopt for a program activation (every partition's log has it).
std::optional<uint32_t> payload_partition(const LogPayload& payload, uint32_t partitions);

// Puts a message in a partition's log and waits: ok once it is there (in a node: applied by the
// partition's owner, the only writer of its log), busy when it could not be put there now.
using LogAppend = std::function<Status(uint32_t partition, LogPayload payload)>;
Status decode_log_payload(std::string_view bytes, LogPayload& out);

}  // namespace loyalty::cluster
