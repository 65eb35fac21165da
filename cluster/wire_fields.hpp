// The fields the cluster's own messages are made of (log payloads, results between nodes,
// feed messages): bytes with a big-endian u32 length before them, and big-endian u64s. A
// reader that runs out of input answers false and leaves `in` as it was.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/keys.hpp"

namespace loyalty::cluster::wire {

inline void put_bytes(std::string& out, std::string_view bytes) {
  storage::append_u32_be(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// `out` views `in`'s buffer.
inline bool take_bytes(std::string_view& in, std::string_view& out) {
  if (in.size() < 4) return false;
  const uint32_t size = *storage::read_u32_be(in.substr(0, 4));
  if (in.size() - 4 < size) return false;
  out = in.substr(4, size);
  in.remove_prefix(4 + size);
  return true;
}

inline bool take_bytes(std::string_view& in, std::string& out) {
  std::string_view view;
  if (!take_bytes(in, view)) return false;
  out.assign(view);
  return true;
}

inline bool take_u64(std::string_view& in, uint64_t& out) {
  if (in.size() < 8) return false;
  out = *storage::read_u64_be(in.substr(0, 8));
  in.remove_prefix(8);
  return true;
}

}  // namespace loyalty::cluster::wire
