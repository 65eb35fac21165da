#include "webhooks/destination.hpp"

#include <boost/url/parse.hpp>

namespace loyalty::webhooks {
namespace {

constexpr size_t kUrlLengthMax = 2048;

bool private_v4(const boost::asio::ip::address_v4& a) {
  const uint32_t n = a.to_uint();
  const auto in = [n](uint32_t base, int bits) {
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (n & mask) == base;
  };
  return in(0x00000000, 8) ||   // "this" network
         in(0x0A000000, 8) ||   // 10/8
         in(0x64400000, 10) ||  // 100.64/10 carrier-grade NAT
         in(0x7F000000, 8) ||   // loopback
         in(0xA9FE0000, 16) ||  // link-local (cloud metadata at 169.254.169.254)
         in(0xAC100000, 12) ||  // 172.16/12
         in(0xC0000000, 24) ||  // IETF protocol assignments
         in(0xC0A80000, 16) ||  // 192.168/16
         in(0xC6120000, 15) ||  // benchmarking
         in(0xE0000000, 4) ||   // multicast
         in(0xF0000000, 4);     // reserved, broadcast
}

}  // namespace

std::variant<Destination, std::string> parse_destination(std::string_view url) {
  if (url.size() > kUrlLengthMax) return std::string("url is longer than 2048 characters");
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::string("url is not an absolute URL");
  const boost::urls::url_view& u = *parsed;
  Destination d;
  if (u.scheme() == "https") {
    d.tls = true;
  } else if (u.scheme() != "http") {
    return std::string("url must be http:// or https://");
  }
  if (u.has_userinfo()) return std::string("url must not carry credentials");
  if (u.has_fragment()) return std::string("url must not have a fragment");
  d.host = u.host_type() == boost::urls::host_type::ipv6 ? std::string(u.host_address())
                                                         : std::string(u.encoded_host());
  if (d.host.empty()) return std::string("url must name a host");
  d.port = u.has_port() ? std::string(u.port()) : (d.tls ? "443" : "80");
  d.target = std::string(u.encoded_path());
  if (d.target.empty()) d.target = "/";
  if (u.has_query()) d.target += "?" + std::string(u.encoded_query());
  return d;
}

bool is_private_address(const boost::asio::ip::address& address) {
  if (address.is_v4()) return private_v4(address.to_v4());
  const boost::asio::ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return private_v4(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  }
  const auto bytes = v6.to_bytes();
  return v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() ||
         (bytes[0] & 0xFE) == 0xFC;  // unique local fc00::/7
}

std::string refuse_private_host(const Destination& destination) {
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(destination.host, error);
  if (!error) {
    return is_private_address(address) ? "url points to a private or loopback address" : "";
  }
  std::string host = destination.host;
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (host.ends_with('.')) host.pop_back();
  for (std::string_view suffix : {".localhost", ".local", ".internal"}) {
    if (host.ends_with(suffix)) return "url points to a private name";
  }
  return host == "localhost" ? "url points to a private name" : "";
}

}  // namespace loyalty::webhooks
