#include "cluster/feed_codec.hpp"

#include "storage/keys.hpp"

namespace loyalty::cluster {
namespace {

constexpr uint8_t kFormat = 1;

void put_bytes(std::string& out, std::string_view bytes) {
  storage::append_u32_be(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

bool take_bytes(std::string_view& in, std::string& out) {
  if (in.size() < 4) return false;
  const uint32_t size = *storage::read_u32_be(in.substr(0, 4));
  if (in.size() - 4 < size) return false;
  out.assign(in.substr(4, size));
  in.remove_prefix(4 + size);
  return true;
}

bool take_u64(std::string_view& in, uint64_t& out) {
  if (in.size() < 8) return false;
  out = *storage::read_u64_be(in.substr(0, 8));
  in.remove_prefix(8);
  return true;
}

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
