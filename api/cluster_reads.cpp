#include "api/cluster_reads.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <sstream>

#include "api/problem.hpp"
#include "api/responses.hpp"
#include "cluster/node.hpp"

namespace loyalty::api {
namespace json = boost::json;

namespace {

// How much longer than a read a forwarded erasure is waited for (its purges read the whole
// event log and compact; a 503 would tell the client nothing of an erasure that is committed).
constexpr int64_t kErasureAnswerSeconds = 120;

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
  // A forwarded read runs in cluster mode too (a member's catalog asks the rewards' home
  // partitions for their stock); `forwarded` keeps it from being forwarded again.
  context_.cluster_reads = this;
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
  // An erasure's answer waits for the owner's purge of its folder and of the partition's log.
  const std::chrono::seconds longer(request.target().ends_with(":erase") ? kErasureAnswerSeconds
                                                                         : 0);
  return Deferred{
      [this, partition, longer, forwarded = std::move(forwarded)](Respond respond) mutable {
        node_.forward_read(
            partition, std::move(forwarded),
            [respond = std::move(respond)](std::optional<std::string> answer) {
              std::optional<HttpResponse> response;
              if (answer) response = decode_forwarded_response(*answer);
              respond(response ? std::move(*response) : no_owner_serving());
            },
            longer);
      }};
}

Deferred ClusterReads::through_claim(std::string key, RequestFor request_for,
                                     std::optional<Principal> principal, HttpResponse none) {
  return Deferred{[this, key = std::move(key), request_for = std::move(request_for),
                   principal = std::move(principal),
                   none = std::move(none)](Respond respond) mutable {
    node_.look_up(key, [this, request_for = std::move(request_for),
                        principal = std::move(principal), none = std::move(none),
                        respond = std::move(respond)](EventResult&& found) mutable {
      if (!found.rejection.ok()) {
        respond(problem_response(ErrorCode::unavailable, found.rejection.message));
        return;
      }
      if (found.claim_owner.empty()) {
        respond(std::move(none));
        return;
      }
      auto answer = [none = std::move(none),
                     respond = std::move(respond)](std::optional<HttpResponse> response) mutable {
        if (!response) {
          respond(no_owner_serving());
        } else if (response->result() == http::status::not_found) {
          respond(std::move(none));
        } else {
          respond(std::move(*response));
        }
      };
      // Through the owner's read subscription even when that is this node: this callback may
      // run on a runtime writer thread (the claim's partition is ours), which must not read.
      const HttpRequest request = request_for(found.claim_owner);
      const uint32_t partition = member_partition(found.claim_owner, node_.config().partitions);
      node_.forward_read(partition, encode_forwarded_read(request, principal),
                         [answer = std::move(answer)](std::optional<std::string> bytes) mutable {
                           answer(bytes ? decode_forwarded_response(*bytes) : std::nullopt);
                         });
    });
  }};
}

void ClusterReads::whose(std::string key,
                         std::function<void(std::optional<std::string> owner)> done) {
  node_.look_up(key, [done = std::move(done)](EventResult&& found) {
    if (!found.storage.ok() || !found.rejection.ok()) {
      done(std::nullopt);
    } else {
      done(std::move(found.claim_owner));
    }
  });
}

void ClusterReads::stock_left(std::vector<std::string> reward_ids,
                              std::function<void(std::optional<StockLeft> left)> done) {
  if (reward_ids.empty()) {
    done(StockLeft{});
    return;
  }
  // Answered on whichever threads the home partitions answer on: the last one answers here.
  struct Gathering {
    std::mutex mutex;
    StockLeft left;
    size_t waiting = 0;
    bool failed = false;
    std::function<void(std::optional<StockLeft>)> done;
  };
  auto gathering = std::make_shared<Gathering>();
  gathering->waiting = reward_ids.size();
  gathering->done = std::move(done);
  for (std::string& reward_id : reward_ids) {
    node_.count_stock(reward_id, [gathering, reward_id](EventResult&& counted) {
      std::unique_lock lock(gathering->mutex);
      if (!counted.storage.ok() || !counted.rejection.ok()) gathering->failed = true;
      gathering->left[reward_id] = counted.stock_left;
      if (--gathering->waiting > 0) return;
      lock.unlock();
      if (gathering->failed) {
        gathering->done(std::nullopt);
      } else {
        gathering->done(std::move(gathering->left));
      }
    });
  }
}

namespace {

// Asks `count` places at once (`ask(i, answer)`) and calls `done` with their responses in order
// once every one answered.
void gather(
    size_t count,
    const std::function<void(size_t i, std::function<void(std::optional<std::string>)>)>& ask,
    std::function<void(ClusterReads::Responses)> done) {
  struct Gathering {
    std::mutex mutex;
    ClusterReads::Responses responses;
    size_t waiting = 0;
    std::function<void(ClusterReads::Responses)> done;
  };
  if (count == 0) {
    done({});
    return;
  }
  auto gathering = std::make_shared<Gathering>();
  gathering->responses.resize(count);
  gathering->waiting = count;
  gathering->done = std::move(done);
  for (size_t i = 0; i < count; ++i) {
    ask(i, [gathering, i](std::optional<std::string> bytes) {
      std::optional<HttpResponse> response;
      if (bytes) response = decode_forwarded_response(*bytes);
      std::unique_lock lock(gathering->mutex);
      gathering->responses[i] = std::move(response);
      if (--gathering->waiting > 0) return;
      lock.unlock();
      gathering->done(std::move(gathering->responses));
    });
  }
}

}  // namespace

void ClusterReads::ask_every_partition(std::function<HttpRequest(uint32_t partition)> request_for,
                                       const std::optional<Principal>& principal,
                                       std::function<void(Responses)> done) {
  gather(
      node_.config().partitions,
      [&](size_t partition, std::function<void(std::optional<std::string>)> answer) {
        const auto p = static_cast<uint32_t>(partition);
        node_.forward_read(p, encode_forwarded_read(request_for(p), principal), std::move(answer));
      },
      std::move(done));
}

void ClusterReads::ask_every_partition_for(const HttpRequest& request,
                                           const std::optional<Principal>& principal,
                                           std::function<void(Responses)> done) {
  ask_every_partition(
      [&request](uint32_t partition) {
        HttpRequest forwarded = request;
        std::string target(request.target());
        target += target.find('?') == std::string::npos ? '?' : '&';
        target += "partition=" + std::to_string(partition);
        forwarded.target(target);
        return forwarded;
      },
      principal, std::move(done));
}

void ClusterReads::ask_every_node(const HttpRequest& request,
                                  const std::optional<Principal>& principal,
                                  std::function<void(Responses)> done) {
  const cluster::ClusterView view = node_.view();
  const std::string encoded = encode_forwarded_read(request, principal);
  gather(
      view.nodes.size(),
      [&](size_t i, std::function<void(std::optional<std::string>)> answer) {
        node_.ask_node(view.nodes[i].node_id, encoded, std::move(answer));
      },
      std::move(done));
}

Status ClusterReads::latest_seq(const std::string& member_id, std::optional<uint64_t>& latest) {
  latest.reset();
  if (node_.serves_reads(member_partition(member_id, node_.config().partitions))) {
    std::optional<MemberState> member;
    if (Status status = context_.store->load_member(member_id, member); !status.ok()) {
      return status;
    }
    if (member) latest = member->next_notification_seq - 1;
    return Status::ok_status();
  }
  std::vector<Notification> none;
  return owners_feed(member_id, 0, 0, latest, none);
}

Status ClusterReads::notifications(const std::string& member_id, uint64_t after_seq, size_t limit,
                                   std::vector<Notification>& out) {
  out.clear();
  if (node_.serves_reads(member_partition(member_id, node_.config().partitions))) {
    return context_.store->read_notifications(member_id, after_seq, limit, out);
  }
  std::optional<uint64_t> latest;
  return owners_feed(member_id, after_seq, limit, latest, out);
}

Status ClusterReads::owners_feed(const std::string& member_id, uint64_t after_seq, size_t limit,
                                 std::optional<uint64_t>& latest, std::vector<Notification>& out) {
  const auto unavailable = [](const std::string& why) {
    return Status::error(Status::Code::busy, "the member's partition owner: " + why);
  };
  HttpRequest request{http::verb::get,
                      "/v1/members/" + boost::urls::encode(member_id, boost::urls::pchars) +
                          "/notifications?after_seq=" + std::to_string(after_seq) +
                          "&limit=" + std::to_string(limit),
                      11};
  // The subscriber was authorized by this node; the owner reads for it as the cluster.
  Principal cluster;
  cluster.name = "cluster";
  cluster.role = Role::admin;
  auto answer = std::make_shared<std::promise<std::optional<std::string>>>();
  std::future<std::optional<std::string>> answered = answer->get_future();
  node_.forward_read(
      member_partition(member_id, node_.config().partitions),
      encode_forwarded_read(request, cluster),
      [answer](std::optional<std::string> response) { answer->set_value(std::move(response)); });
  // The node answers every forwarded read (nullopt at its deadline at the latest).
  const std::optional<std::string> bytes = answered.get();
  if (!bytes) return unavailable("no owner serves it this moment");
  const std::optional<HttpResponse> response = decode_forwarded_response(*bytes);
  if (!response) return unavailable("an answer this node cannot read");
  if (response->result() == http::status::not_found) return Status::ok_status();  // no member
  if (response->result() != http::status::ok) {
    return unavailable("answered " + std::to_string(response->result_int()));
  }
  uint64_t newest = 0;
  if (!parse_notifications_json(response->body(), newest, out)) {
    return unavailable("an answer this node cannot read");
  }
  latest = newest;
  return Status::ok_status();
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
  // Only reads travel between nodes (a quote is a read sent as a POST), a store-scoped key's
  // refunds (api/handlers_events.cpp) and erasures (run by the member's owner, which purges its
  // folder and the partition's log): whatever else arrives is not from this code.
  const std::string_view target = request.target();
  const bool erasure = target.starts_with("/v1/members/") && target.ends_with(":erase");
  const bool post_allowed = request.method() == http::verb::post &&
                            (target == "/v1/quotes" || target == "/v1/events/refund" || erasure);
  if (request.method() != http::verb::get && !post_allowed) {
    reply(encode_forwarded_response(
        problem_response(ErrorCode::unavailable, "only reads are answered for another node")));
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
