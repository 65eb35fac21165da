#include "cluster/log_codec.hpp"

#include "cluster/wire_fields.hpp"
#include "engine/runtime/runtime.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::cluster {
namespace {

using wire::put_bytes;
using wire::take_bytes;
using wire::take_u64;

enum class Kind : uint8_t {
  event = 1,
  program_activation = 2,
  claim = 3,
  stock = 4,
  claim_release = 5  // a ClaimAsk with `release`
};

Status corrupt(std::string what) {
  return Status::error(Status::Code::corruption, "cluster log message: " + std::move(what));
}

}  // namespace

std::string encode_log_payload(const LogPayload& payload) {
  std::string bytes;
  if (const auto* event = std::get_if<Event>(&payload)) {
    thread_local storage::RecordEncoder encoder;
    const std::string_view record = encoder.event(*event, 0);
    bytes.reserve(1 + record.size());
    bytes.push_back(static_cast<char>(Kind::event));
    bytes.append(record);
  } else if (const auto* claim = std::get_if<ClaimAsk>(&payload)) {
    bytes.push_back(static_cast<char>(claim->release ? Kind::claim_release : Kind::claim));
    put_bytes(bytes, claim->key);
    put_bytes(bytes, claim->member_id);
    // Counted grants and their releases only (a claim without reads as before them).
    if (claim->grant != 0 || !claim->request.empty()) {
      storage::append_u64_be(bytes, claim->grant);
      put_bytes(bytes, claim->request);
    }
  } else if (const auto* stock = std::get_if<StockAsk>(&payload)) {
    bytes.push_back(static_cast<char>(Kind::stock));
    bytes.push_back(static_cast<char>(stock->move));
    put_bytes(bytes, stock->unit.reward_id);
    put_bytes(bytes, stock->unit.code);
  } else {
    const auto& activation = std::get<ProgramActivation>(payload);
    bytes.push_back(static_cast<char>(Kind::program_activation));
    storage::append_u64_be(bytes, activation.activation);
    storage::append_u32_be(bytes, activation.version);
    storage::append_u64_be(bytes, static_cast<uint64_t>(activation.activated_at));
    put_bytes(bytes, activation.source_toml);
  }
  return bytes;
}

Status decode_log_payload(std::string_view bytes, LogPayload& out) {
  if (bytes.empty()) return corrupt("empty");
  const auto kind = static_cast<Kind>(static_cast<uint8_t>(bytes.front()));
  const std::string_view body = bytes.substr(1);
  switch (kind) {
    case Kind::event: {
      Event event;
      uint32_t version = 0;
      if (Status status = storage::decode_event_only(body, event, version); !status.ok()) {
        return corrupt(status.message());
      }
      out = std::move(event);
      return Status::ok_status();
    }
    case Kind::program_activation: {
      std::string_view rest = body;
      ProgramActivation activation;
      uint64_t activated_at = 0;
      const bool read = take_u64(rest, activation.activation) && rest.size() >= 4;
      if (read) {
        activation.version = *storage::read_u32_be(rest.substr(0, 4));
        rest.remove_prefix(4);
      }
      if (!read || !take_u64(rest, activated_at) || !take_bytes(rest, activation.source_toml) ||
          !rest.empty() || activation.activation == 0 || activation.version == 0 ||
          activation.source_toml.empty()) {
        return corrupt("bad program activation");
      }
      activation.activated_at = static_cast<TimeMs>(activated_at);
      out = std::move(activation);
      return Status::ok_status();
    }
    case Kind::claim:
    case Kind::claim_release: {
      std::string_view rest = body;
      ClaimAsk claim;
      claim.release = kind == Kind::claim_release;
      const bool read = take_bytes(rest, claim.key) && take_bytes(rest, claim.member_id) &&
                        (rest.empty() || (take_u64(rest, claim.grant) &&
                                          take_bytes(rest, claim.request) && rest.empty()));
      if (!read || claim.key.empty() || (claim.release && claim.member_id.empty())) {
        return corrupt("bad claim");
      }
      out = std::move(claim);
      return Status::ok_status();
    }
    case Kind::stock: {
      std::string_view rest = body;
      StockAsk ask;
      if (rest.empty()) return corrupt("bad stock ask");
      const auto move = static_cast<uint8_t>(rest.front());
      rest.remove_prefix(1);
      ask.move = static_cast<StockMove>(move);
      const bool named = take_bytes(rest, ask.unit.reward_id) && take_bytes(rest, ask.unit.code) &&
                         rest.empty() && !ask.unit.reward_id.empty();
      if (!named || move < static_cast<uint8_t>(StockMove::take) ||
          move > static_cast<uint8_t>(StockMove::count) ||
          ask.unit.code.empty() != (ask.move == StockMove::count)) {
        return corrupt("bad stock ask");
      }
      out = std::move(ask);
      return Status::ok_status();
    }
  }
  return corrupt("unknown kind " + std::to_string(static_cast<int>(kind)));
}

std::optional<uint32_t> payload_partition(const LogPayload& payload, uint32_t partitions) {
  if (const auto* event = std::get_if<Event>(&payload)) {
    return member_partition(event->member_id(), partitions);
  }
  if (const auto* claim = std::get_if<ClaimAsk>(&payload)) {
    return member_partition(claim->key, partitions);
  }
  if (const auto* stock = std::get_if<StockAsk>(&payload)) {
    return member_partition(stock_key(stock->unit.reward_id), partitions);
  }
  return std::nullopt;
}

}  // namespace loyalty::cluster
