#include "cluster/log_codec.hpp"

#include "cluster/wire_fields.hpp"
#include "storage/keys.hpp"
#include "storage/record_codec.hpp"

namespace loyalty::cluster {
namespace {

using wire::put_bytes;
using wire::take_bytes;

enum class Kind : uint8_t { event = 1, program_activation = 2, claim = 3 };

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
    bytes.push_back(static_cast<char>(Kind::claim));
    put_bytes(bytes, claim->key);
    put_bytes(bytes, claim->member_id);
  } else {
    bytes.push_back(static_cast<char>(Kind::program_activation));
    storage::append_u32_be(bytes, std::get<ProgramActivation>(payload).version);
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
      const std::optional<uint32_t> version = storage::read_u32_be(body);
      if (!version || *version == 0) return corrupt("bad program version");
      out = ProgramActivation{*version};
      return Status::ok_status();
    }
    case Kind::claim: {
      std::string_view rest = body;
      ClaimAsk claim;
      if (!take_bytes(rest, claim.key) || !take_bytes(rest, claim.member_id) || !rest.empty() ||
          claim.key.empty()) {
        return corrupt("bad claim");
      }
      out = std::move(claim);
      return Status::ok_status();
    }
  }
  return corrupt("unknown kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace loyalty::cluster
