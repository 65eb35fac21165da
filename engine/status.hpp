// Operational errors (I/O, corruption, a full disk): a [[nodiscard]] status, never an
// exception across a module boundary. Business refusals are Rejection (outcome.hpp).
#pragma once

#include <string>
#include <utility>

namespace loyalty {

class [[nodiscard]] Status {
 public:
  enum class Code : uint8_t { ok = 0, io_error, corruption, not_found, invalid_argument, busy };

  Status() = default;
  static Status ok_status() { return {}; }
  static Status error(Code code, std::string message) { return Status(code, std::move(message)); }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::ok;
  std::string message_;
};

}  // namespace loyalty
