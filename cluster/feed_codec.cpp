#include "cluster/feed_codec.hpp"

#include "cluster/wire_fields.hpp"
#include "storage/keys.hpp"

namespace loyalty::cluster {
namespace {

using wire::put_bytes;
using wire::take_bytes;
using wire::take_u64;

constexpr uint8_t kFormat = 1;

}  // namespace

std::string encode_feed(std::string_view member_id, const Notification& notification) {
  std::string out;
  out.push_back(static_cast<char>(kFormat));
  put_bytes(out, member_id);
  storage::append_u64_be(out, notification.seq);
  put_bytes(out, notification.type);
  storage::append_u64_be(out, static_cast<uint64_t>(notification.points));
  put_bytes(out, notification.reference);
  storage::append_u64_be(out, static_cast<uint64_t>(notification.at));
  storage::append_u64_be(out, notification.entry_seq);
  return out;
}

Status decode_feed(std::string_view bytes, std::string& member_id, Notification& notification) {
  notification = Notification{};
  uint64_t points = 0, at = 0;
  if (bytes.empty() || static_cast<uint8_t>(bytes.front()) != kFormat) {
    return Status::error(Status::Code::corruption, "feed message: format");
  }
  bytes.remove_prefix(1);
  if (!take_bytes(bytes, member_id) || member_id.empty() || !take_u64(bytes, notification.seq) ||
      !take_bytes(bytes, notification.type) || !take_u64(bytes, points) ||
      !take_bytes(bytes, notification.reference) || !take_u64(bytes, at) ||
      !take_u64(bytes, notification.entry_seq) || !bytes.empty()) {
    return Status::error(Status::Code::corruption, "feed message: truncated or too long");
  }
  notification.points = static_cast<Points>(points);
  notification.at = static_cast<TimeMs>(at);
  return Status::ok_status();
}

}  // namespace loyalty::cluster
