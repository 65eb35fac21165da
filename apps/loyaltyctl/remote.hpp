// A small synchronous HTTP client (Boost.Beast) for loyaltyctl's --server mode: one request per
// connection, a time limit on each, the admin key as a bearer token. http:// and https:// (the
// server's certificate verified against the system's CAs or --cacert, and its name checked).
// Thread-safety: one Remote per thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace loyalty::ctl {

struct Target;
class Remote;

// The Remote of --server/--key/--cacert; nullopt after printing why (the caller exits 2).
std::optional<Remote> remote_of(const Target& target);

struct RemoteResponse {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class Remote {
 public:
  // nullopt (and `error` says why) unless `url` is http(s)://HOST[:PORT] with an optional "/".
  // `ca_file` (PEM) is trusted for https besides the system's CAs; "" for none.
  static std::optional<Remote> connect_to(std::string_view url, std::string key,
                                          std::string ca_file, std::string& error);

  // Sends one request; false (and `error` says why) when no response came back.
  bool request(std::string_view method, std::string_view target, std::string_view body,
               std::string_view content_type, std::string_view accept, RemoteResponse& out,
               std::string& error) const;

  const std::string& base() const { return base_; }  // "http://host:port", for messages

 private:
  Remote(bool tls, std::string host, std::string port, std::string key, std::string ca_file);
  template <class Stream>
  bool exchange(Stream& stream, std::string_view method, std::string_view target,
                std::string_view body, std::string_view content_type, std::string_view accept,
                RemoteResponse& out, std::string& error) const;
  bool tls_;
  std::string ca_file_;
  std::string host_;
  std::string port_;
  std::string key_;
  std::string base_;
  std::chrono::seconds timeout_{30};
};

}  // namespace loyalty::ctl
