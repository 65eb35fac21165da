#include "api/cluster_reads.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <sstream>

#include "api/problem.hpp"
#include "cluster/node.hpp"

namespace loyalty::api {
namespace json = boost::json;

namespace {

HttpResponse no_owner_serving() {
  return problem_response(ErrorCode::unavailable,
                          "the member's partition has no owner serving reads this moment (it "
                          "moves); retry shortly");
}

template <class Message>
std::string serialize(const Message& message) {
  std::ostringstream out;
  out << message;
  return std::move(out).str();
}

template <class Parser>
bool parse(std::string_view text, Parser& parser) {
  parser.eager(true);
  boost::beast::error_code error;
  const size_t used = parser.put(boost::asio::buffer(text.data(), text.size()), error);
  return !error && used == text.size() && parser.is_done();
}

}  // namespace

std::string encode_forwarded_read(const HttpRequest& request,
                                  const std::optional<Principal>& principal) {
  json::object message;
  if (principal) {
    json::object who{{"name", principal->name},
                     {"role", static_cast<int>(principal->role)},
                     {"all_stores", principal->all_stores}};
    json::array stores;
    for (const std::string& store : principal->stores) stores.emplace_back(store);
    who["stores"] = std::move(stores);
    if (principal->member_scope) who["member_scope"] = *principal->member_scope;
    message["principal"] = std::move(who);
  }
  message["request"] = serialize(request);
  return json::serialize(message);
}

bool decode_forwarded_read(std::string_view bytes, HttpRequest& request,
                           std::optional<Principal>& principal) {
  try {
    const json::object message = json::parse(bytes).as_object();
    principal.reset();
    if (const json::value* who = message.if_contains("principal")) {
      const json::object& fields = who->as_object();
      Principal caller;
      caller.name = json::value_to<std::string>(fields.at("name"));
      const int64_t role = fields.at("role").as_int64();
      if (role < 0 || role > static_cast<int64_t>(Role::app)) return false;
      caller.role = static_cast<Role>(role);
      caller.all_stores = fields.at("all_stores").as_bool();
      caller.stores = json::value_to<std::vector<std::string>>(fields.at("stores"));
      if (const json::value* scope = fields.if_contains("member_scope")) {
        caller.member_scope = json::value_to<std::string>(*scope);
      }
      principal = std::move(caller);
    }
    http::request_parser<http::string_body> parser;
    if (!parse(message.at("request").as_string(), parser)) return false;
    request = parser.release();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string encode_forwarded_response(HttpResponse response) {
  response.prepare_payload();
  return serialize(response);
}

std::optional<HttpResponse> decode_forwarded_response(std::string_view bytes) {
  http::response_parser<http::string_body> parser;
  if (!parse(bytes, parser)) return std::nullopt;
  HttpResponse response = parser.release();
  response.erase(http::field::content_length);  // the session sets its own
  return response;
}

ClusterReads::ClusterReads(cluster::ClusterNode& node, ApiContext context)
    : node_(node), context_(std::move(context)) {
  node_.set_read_server([this](std::string_view forwarded, cluster::ClusterNode::ReadDone reply) {
    serve(forwarded, std::move(reply));
  });
}

std::optional<Deferred> ClusterReads::elsewhere(std::string_view member_id,
                                                const HttpRequest& request,
                                                const std::optional<Principal>& principal) {
  const uint32_t partition = member_partition(member_id, node_.config().partitions);
  if (node_.serves_reads(partition)) return std::nullopt;
  std::string forwarded = encode_forwarded_read(request, principal);
  return Deferred{[this, partition, forwarded = std::move(forwarded)](Respond respond) mutable {
    node_.forward_read(partition, std::move(forwarded),
                       [respond = std::move(respond)](std::optional<std::string> answer) {
                         std::optional<HttpResponse> response;
                         if (answer) response = decode_forwarded_response(*answer);
                         respond(response ? std::move(*response) : no_owner_serving());
                       });
  }};
}

void ClusterReads::serve(std::string_view forwarded,
                         std::function<void(std::optional<std::string>)> reply) {
  HttpRequest request;
  std::optional<Principal> principal;
  if (!decode_forwarded_read(forwarded, request, principal)) {
    reply(encode_forwarded_response(
        problem_response(ErrorCode::unavailable, "a forwarded read could not be read")));
    return;
  }
  RouteResult result = route(context_, request, principal, /*forwarded=*/true);
  if (HttpResponse* response = std::get_if<HttpResponse>(&result)) {
    reply(encode_forwarded_response(std::move(*response)));
    return;
  }
  std::get<Deferred>(result).start([reply = std::move(reply)](HttpResponse&& response) {
    reply(encode_forwarded_response(std::move(response)));
  });
}

}  // namespace loyalty::api
