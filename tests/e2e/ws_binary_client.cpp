// A FlatBuffers client of GET /v1/stream for the e2e tests (test_stream.py): sends `--count`
// binary Purchase frames (and, with --garbage-at K, a frame of garbage before the K-th), then
// prints one JSON line per ResultFrame received, in order, and closes.
//   ws_binary_client --port P --key KEY --member M --prefix ID [--count N] [--garbage-at K]
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "api/wire_generated.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using net::ip::tcp;

namespace {

std::string purchase_frame(const std::string& event_id, const std::string& member_id) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<loyalty::wire::PurchaseLine>> lines;
  lines.push_back(loyalty::wire::CreatePurchaseLineDirect(builder, "latte-l", "beverage", 1, 1000));
  const auto purchase = loyalty::wire::CreatePurchaseDirect(
      builder, event_id.c_str(), member_id.c_str(), "s-1", "2026-11-20T10:15:00Z", "CNY", &lines);
  const auto frame = loyalty::wire::CreateEventFrame(builder, loyalty::wire::EventBody::Purchase,
                                                     purchase.Union());
  builder.Finish(frame);
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

std::string quoted(const flatbuffers::String* text) {
  if (text == nullptr) return "null";
  return boost::json::serialize(boost::json::string(text->string_view()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string port;
  std::string key;
  std::string member;
  std::string prefix = "bin";
  int count = 1;
  int garbage_at = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port")
      port = value;
    else if (flag == "--key")
      key = value;
    else if (flag == "--member")
      member = value;
    else if (flag == "--prefix")
      prefix = value;
    else if (flag == "--count")
      count = std::atoi(value.c_str());
    else if (flag == "--garbage-at")
      garbage_at = std::atoi(value.c_str());
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  if (port.empty() || key.empty() || member.empty()) {
    std::cerr << "usage: ws_binary_client --port P --key KEY --member M [--prefix ID] "
                 "[--count N] [--garbage-at K]\n";
    return 2;
  }
  try {
    net::io_context io;
    tcp::resolver resolver(io);
    websocket::stream<tcp::socket> ws(io);
    net::connect(ws.next_layer(), resolver.resolve("127.0.0.1", port));
    ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& request) {
      request.set(beast::http::field::authorization, "Bearer " + key);
    }));
    ws.handshake("127.0.0.1:" + port, "/v1/stream");
    ws.binary(true);
    int frames = 0;
    for (int i = 0; i < count; ++i) {
      if (i == garbage_at) {
        const std::string garbage = "\x01\x02\x03 this is not a flatbuffer \xff\xfe";
        ws.write(net::buffer(garbage));
        ++frames;
      }
      ws.write(net::buffer(purchase_frame(prefix + "-" + std::to_string(i), member)));
      ++frames;
    }
    for (int i = 0; i < frames; ++i) {
      beast::flat_buffer buffer;
      ws.read(buffer);
      if (!ws.got_binary()) {
        std::cerr << "a text frame where a binary result was expected\n";
        return 1;
      }
      const auto* data = static_cast<const uint8_t*>(buffer.data().data());
      flatbuffers::Verifier verifier(data, buffer.size());
      if (!verifier.VerifyBuffer<loyalty::wire::ResultFrame>(nullptr)) {
        std::cerr << "a result that is no valid ResultFrame\n";
        return 1;
      }
      const auto* result = flatbuffers::GetRoot<loyalty::wire::ResultFrame>(data);
      std::cout << "{\"event_id\":" << quoted(result->event_id())
                << ",\"status\":" << result->status() << ",\"code\":" << quoted(result->code())
                << ",\"member_id\":" << quoted(result->member_id())
                << ",\"points_earned\":" << result->points_earned()
                << ",\"balance_available\":" << result->balance_available()
                << ",\"replayed\":" << (result->replayed() ? "true" : "false")
                << ",\"body\":" << (result->body_json() ? result->body_json()->str() : "null")
                << "}\n";
    }
    ws.close(websocket::close_code::normal);
  } catch (const std::exception& error) {
    std::cerr << "ws_binary_client: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
