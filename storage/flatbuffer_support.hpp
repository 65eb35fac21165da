// What every FlatBuffers codec of storage/ needs: strings in and out (an empty string is left
// out of the record, and an absent field reads back as ""), and a verified root read from bytes
// RocksDB hands out at any address.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace loyalty::storage {

inline flatbuffers::Offset<flatbuffers::String> optional_string(
    flatbuffers::FlatBufferBuilder& builder, std::string_view text) {
  if (text.empty()) return 0;
  return builder.CreateString(text.data(), text.size());
}

inline std::string to_string(const flatbuffers::String* text) {
  return text == nullptr ? std::string() : text->str();
}

// FlatBuffers reads scalars in place, and an unaligned load is undefined behaviour: misaligned
// bytes are copied to 8-aligned memory.
class AlignedBytes {
 public:
  explicit AlignedBytes(std::string_view bytes) : size_(bytes.size()) {
    if (bytes.empty() || reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) == 0) {
      data_ = reinterpret_cast<const uint8_t*>(bytes.data());
      return;
    }
    copy_.resize(bytes.size() / sizeof(uint64_t) + 1);
    std::memcpy(copy_.data(), bytes.data(), bytes.size());
    data_ = reinterpret_cast<const uint8_t*>(copy_.data());
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::vector<uint64_t> copy_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// The verified root table of `bytes`, or nullptr when the buffer does not hold a T.
template <typename T>
const T* verified_root(const AlignedBytes& bytes) {
  if (bytes.size() < sizeof(flatbuffers::uoffset_t) ||
      bytes.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return nullptr;
  }
  flatbuffers::Verifier verifier(bytes.data(), bytes.size());
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(bytes.data());
}

}  // namespace loyalty::storage
