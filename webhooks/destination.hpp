// Where an endpoint's messages go, and which addresses they may not go to. Loopback, private,
// link-local, unique-local and other non-public ranges are refused unless the operator allows
// them ([webhooks] allow_private_addresses): an admin key must not make the server call into
// its own network (SSRF). Names are checked when the endpoint is created and every address they
// resolve to at each delivery (a name can be pointed elsewhere later).
// Thread-safety: free functions.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>
#include <variant>

namespace loyalty::webhooks {

struct Destination {
  bool tls = false;  // https
  std::string host;  // a name, or an address (IPv6 without brackets)
  std::string port;
  std::string target;  // path and query, "/" at least
};

// An absolute http(s) URL without credentials or fragment, at most 2048 characters; else a
// sentence saying what is wrong.
std::variant<Destination, std::string> parse_destination(std::string_view url);

// Whether messages may not go to `address` unless private addresses are allowed.
bool is_private_address(const boost::asio::ip::address& address);

// At creation: a sentence when the host is an address or a name ("localhost", "*.localhost",
// "*.local", "*.internal") that is private; "" when it may be used.
std::string refuse_private_host(const Destination& destination);

}  // namespace loyalty::webhooks
