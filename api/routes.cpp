// The route table: every route the server serves, who may call it and the handler that answers
// it. route() dispatches through it; the OpenAPI test, the role test and metric labels read it.
#include <array>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <vector>

#include "api/cluster_reads.hpp"
#include "api/handlers.hpp"
#include "api/member_search.hpp"
#include "api/metrics.hpp"
#include "api/openapi.hpp"
#include "api/request_parsing.hpp"
#include "cluster/node.hpp"
#include "engine/claim_keys.hpp"
#include "engine/coupon_code.hpp"

namespace loyalty::api {
namespace {

using http::verb;

// Handlers take what they use; these adapt each to the table's one signature. A route of
// Access::keys or member_read has a principal by the time its handler runs.
RouteResult signup(const RouteCall& c) { return handle_signup(c.context, c.request); }
// Cluster mode: the identifier's claim names the member, whose owner answers (api/cluster_reads).
RouteResult lookup(const RouteCall& c) {
  if (c.context.cluster_reads == nullptr || c.forwarded) return handle_lookup(c.context, c.query);
  std::variant<IdentifierQuery, HttpResponse> parsed = parse_lookup_query(c.query);
  if (auto* refusal = std::get_if<HttpResponse>(&parsed)) return std::move(*refusal);
  const IdentifierQuery& query = std::get<IdentifierQuery>(parsed);
  return c.context.cluster_reads->through_claim(
      identifier_claim_key(query.kind, query.value),
      [](const std::string& member_id) {
        return HttpRequest{http::verb::get,
                           "/v1/members/" + boost::urls::encode(member_id, boost::urls::pchars),
                           11};
      },
      c.principal, lookup_not_found(query));
}
RouteResult get_member(const RouteCall& c) { return handle_get_member(c.context, c.params[0]); }
RouteResult update_member(const RouteCall& c) {
  return handle_update_member(c.context, c.request, c.params[0], *c.principal);
}
RouteResult erase_member(const RouteCall& c) {
  return handle_erase_member(c.context, c.request, c.params[0], *c.principal);
}

// One partition's page of a cluster-wide search, from its owner's answer; nullopt when the
// answer is not one.
std::optional<PartitionPage> partition_page(const HttpResponse& response) {
  boost::system::error_code error;
  const boost::json::value body = boost::json::parse(response.body(), error);
  const boost::json::object* object = error ? nullptr : body.if_object();
  const boost::json::value* members = object ? object->if_contains("members") : nullptr;
  const boost::json::value* next = object ? object->if_contains("next_cursor") : nullptr;
  if (members == nullptr || !members->is_array() || next == nullptr) return std::nullopt;
  PartitionPage page;
  for (const boost::json::value& view : members->as_array()) {
    const boost::json::value* id =
        view.is_object() ? view.as_object().if_contains("member_id") : nullptr;
    if (id == nullptr || !id->is_string()) return std::nullopt;
    page.members.emplace_back(std::string(id->as_string()), view);
  }
  if (next->is_string()) page.next_cursor = std::string(next->as_string());
  return page;
}

// Cluster mode: each partition's owner searches its own members (a forwarded request with
// `partition`), and the pages are merged here (api/member_search.hpp).
RouteResult search_members(const RouteCall& c) {
  std::variant<MemberSearch, HttpResponse> parsed =
      parse_member_search(c.query, c.context.programs->active()->program, c.forwarded);
  if (auto* refusal = std::get_if<HttpResponse>(&parsed)) return std::move(*refusal);
  MemberSearch& search = std::get<MemberSearch>(parsed);
  if (c.context.cluster_reads == nullptr || c.forwarded) {
    if (search.partition && c.context.cluster != nullptr) {
      search.partitions = c.context.cluster->config().partitions;
    } else {
      search.partition.reset();
    }
    return handle_search_members(c.context, search);
  }
  return Deferred{[cluster = c.context.cluster_reads, request = c.request, principal = c.principal,
                   limit = search.limit](Respond respond) {
    cluster->ask_every_partition_for(
        request, principal, [respond, limit](ClusterReads::Responses responses) {
          std::vector<PartitionPage> pages;
          for (std::optional<HttpResponse>& response : responses) {
            if (!response) {
              respond(problem_response(ErrorCode::unavailable,
                                       "a partition has no owner serving reads this moment (it "
                                       "moves); retry shortly"));
              return;
            }
            if (response->result() != http::status::ok) {
              respond(std::move(*response));
              return;
            }
            std::optional<PartitionPage> page = partition_page(*response);
            if (!page) {
              respond(problem_response(ErrorCode::unavailable,
                                       "a partition's owner sent an answer this node cannot "
                                       "read; retry shortly"));
              return;
            }
            pages.push_back(std::move(*page));
          }
          auto [views, next] = merge_partition_pages(std::move(pages), limit);
          boost::json::object body{{"members", boost::json::array(views.begin(), views.end())}};
          body["next_cursor"] = next ? boost::json::value(*next) : nullptr;
          respond(json_response(http::status::ok, body));
        });
  }};
}
RouteResult ledger(const RouteCall& c) { return handle_ledger(c.context, c.params[0], c.query); }
RouteResult referrals(const RouteCall& c) { return handle_referrals(c.context, c.params[0]); }
RouteResult notifications(const RouteCall& c) {
  return handle_notifications(c.context, c.params[0], c.query);
}
RouteResult redemption(const RouteCall& c) {
  return handle_redemption(c.context, c.request, c.params[0]);
}
RouteResult adjustment(const RouteCall& c) {
  return handle_adjustment(c.context, c.request, c.params[0], *c.principal);
}
RouteResult quote(const RouteCall& c) {
  return handle_quote(c.context, c.request, *c.principal, c.forwarded);
}
RouteResult purchase(const RouteCall& c) {
  return handle_purchase(c.context, c.request, *c.principal);
}
RouteResult refund(const RouteCall& c) {
  return handle_refund(c.context, c.request, *c.principal, c.forwarded);
}
RouteResult batch(const RouteCall& c) { return handle_batch(c.context, c.request, *c.principal); }
RouteResult create_hold(const RouteCall& c) { return handle_create_hold(c.context, c.request); }
// Cluster mode: the hold id's claim names the member, whose owner answers (api/cluster_reads).
RouteResult get_hold(const RouteCall& c) {
  if (c.context.cluster_reads == nullptr || c.forwarded || !is_valid_id(c.params[0])) {
    return handle_get_hold(c.context, c.params[0]);
  }
  return c.context.cluster_reads->through_claim(
      hold_claim_key(c.params[0]), [request = c.request](const std::string&) { return request; },
      c.principal, hold_not_found());
}
// Cluster mode: the purchase id's claim names the member, whose owner answers.
RouteResult get_purchase(const RouteCall& c) {
  if (c.context.cluster_reads == nullptr || c.forwarded || !is_valid_id(c.params[0])) {
    return handle_get_purchase(c.context, c.params[0], *c.principal);
  }
  return c.context.cluster_reads->through_claim(
      "e:" + std::string(c.params[0]),
      [request = c.request](const std::string&) { return request; }, c.principal,
      purchase_not_found());
}
RouteResult capture_hold(const RouteCall& c) {
  return handle_hold_action(c.context, c.request, c.params[0], EventType::hold_capture);
}
RouteResult void_hold(const RouteCall& c) {
  return handle_hold_action(c.context, c.request, c.params[0], EventType::hold_void);
}
RouteResult rewards(const RouteCall& c) { return handle_rewards(c.context); }
RouteResult member_rewards(const RouteCall& c) {
  return handle_member_rewards(c.context, c.params[0]);
}
RouteResult redeem_reward(const RouteCall& c) {
  return handle_redeem_reward(c.context, c.request, c.params[0], c.params[1]);
}
RouteResult member_coupons(const RouteCall& c) {
  return handle_member_coupons(c.context, c.params[0], c.query);
}
// Cluster mode: the code's claim names the member, whose owner answers (api/cluster_reads).
RouteResult check_coupon(const RouteCall& c) {
  const std::optional<std::string> code = parse_coupon_code(c.params[0]);
  if (c.context.cluster_reads == nullptr || c.forwarded || !code) {
    return handle_check_coupon(c.context, c.params[0]);
  }
  return c.context.cluster_reads->through_claim(
      identifier_claim_key(IdentifierKind::coupon_code, *code),
      [request = c.request](const std::string&) { return request; }, c.principal,
      coupon_not_found_response());
}
RouteResult use_coupon(const RouteCall& c) {
  return handle_use_coupon(c.context, c.request, c.params[0], *c.principal);
}
RouteResult cancel_coupon(const RouteCall& c) {
  return handle_cancel_coupon(c.context, c.request, c.params[0], *c.principal);
}
RouteResult get_program(const RouteCall& c) { return handle_get_program(c.context); }
RouteResult list_program_versions(const RouteCall& c) {
  return handle_list_program_versions(c.context);
}
RouteResult get_program_version(const RouteCall& c) {
  return handle_get_program_version(c.context, c.params[0]);
}
RouteResult put_program(const RouteCall& c) { return handle_put_program(c.context, c.request); }
RouteResult validate_program(const RouteCall& c) { return handle_validate_program(c.request); }
RouteResult stats(const RouteCall& c) {
  return handle_stats(c.context, c.request, c.principal, c.query, c.forwarded);
}
RouteResult list_jobs(const RouteCall& c) { return handle_list_jobs(c.context, c.query); }
RouteResult post_job(const RouteCall& c) {
  return handle_post_job(c.context, c.request, *c.principal);
}
RouteResult post_backup(const RouteCall& c) {
  return handle_post_backup(c.context, c.request, *c.principal);
}
RouteResult get_job(const RouteCall& c) {
  return handle_get_job(c.context, c.request, c.params[0]);
}
RouteResult create_webhook(const RouteCall& c) {
  return handle_create_webhook(c.context, c.request);
}
RouteResult list_webhooks(const RouteCall& c) { return handle_list_webhooks(c.context); }
RouteResult get_webhook(const RouteCall& c) { return handle_get_webhook(c.context, c.params[0]); }
RouteResult update_webhook(const RouteCall& c) {
  return handle_update_webhook(c.context, c.request, c.params[0]);
}
RouteResult delete_webhook(const RouteCall& c) {
  return handle_delete_webhook(c.context, c.params[0]);
}
RouteResult rotate_webhook_secret(const RouteCall& c) {
  return handle_rotate_webhook_secret(c.context, c.request, c.params[0]);
}
RouteResult test_webhook(const RouteCall& c) {
  return handle_test_webhook(c.context, c.request, c.params[0]);
}
// Cluster mode: every node lists the attempts it made (each partition's owners over time made
// some), and the pages are merged here in message order.
RouteResult webhook_deliveries(const RouteCall& c) {
  if (c.context.cluster_reads == nullptr || c.forwarded) {
    return handle_webhook_deliveries(c.context, c.params[0], c.query, c.forwarded);
  }
  return Deferred{[cluster = c.context.cluster_reads, request = c.request,
                   principal = c.principal](Respond respond) {
    cluster->ask_every_node(
        request, principal, [respond, request](ClusterReads::Responses responses) {
          std::vector<HttpResponse> pages;
          for (std::optional<HttpResponse>& response : responses) {
            if (!response) {
              respond(problem_response(ErrorCode::unavailable,
                                       "a node of the cluster did not answer; retry shortly"));
              return;
            }
            pages.push_back(std::move(*response));
          }
          if (pages.empty()) {
            respond(
                problem_response(ErrorCode::unavailable,
                                 "etcd names no node of the cluster this moment; retry shortly"));
            return;
          }
          // The router parsed this target before it came here.
          const auto target = boost::urls::parse_origin_form(request.target());
          respond(merge_delivery_pages(std::move(pages), target->params()));
        });
  }};
}
RouteResult replay_webhook(const RouteCall& c) {
  return handle_replay_webhook(c.context, c.request, c.params[0]);
}
RouteResult get_cluster(const RouteCall& c) { return handle_get_cluster(c.context); }
RouteResult openapi(const RouteCall&) { return handle_openapi(); }
RouteResult healthz(const RouteCall&) { return handle_healthz(); }
RouteResult readyz(const RouteCall& c) { return handle_readyz(c.context); }
RouteResult metrics(const RouteCall& c) { return handle_metrics(c.context); }

constexpr RoleSet kAnyKey{Role::pos, Role::app, Role::admin};
constexpr RoleSet kPos{Role::pos, Role::admin};  // admin may call everything (api.md "Auth")
constexpr RoleSet kApp{Role::app, Role::admin};
constexpr RoleSet kAdmin{Role::admin};

constexpr std::array kRoutes{
    RouteSpec{verb::post, "/v1/members", Access::keys, kApp, signup},
    RouteSpec{verb::get, "/v1/members", Access::keys, kPos, search_members},
    RouteSpec{verb::get, "/v1/members:lookup", Access::keys, kAnyKey, lookup},
    RouteSpec{verb::get, "/v1/members/{member_id}", Access::member_read, kAnyKey, get_member,
              Placement::member_partition},
    RouteSpec{verb::patch, "/v1/members/{member_id}", Access::keys, kApp, update_member},
    // Cluster mode: run by the owner, which purges its folder and the partition's log.
    RouteSpec{verb::post, "/v1/members/{member_id}:erase", Access::keys, kAdmin, erase_member,
              Placement::member_partition},
    RouteSpec{verb::get, "/v1/members/{member_id}/ledger", Access::member_read, kAnyKey, ledger,
              Placement::member_partition},
    RouteSpec{verb::get, "/v1/members/{member_id}/referrals", Access::member_read, kApp, referrals,
              Placement::member_partition},
    RouteSpec{verb::get, "/v1/members/{member_id}/notifications", Access::member_read, kAnyKey,
              notifications, Placement::member_partition},
    RouteSpec{verb::post, "/v1/members/{member_id}/redemptions", Access::keys, kAnyKey, redemption},
    RouteSpec{verb::post, "/v1/members/{member_id}/adjustments", Access::keys, kAdmin, adjustment},
    RouteSpec{verb::post, "/v1/quotes", Access::keys, kAnyKey, quote},
    RouteSpec{verb::post, "/v1/events/purchase", Access::keys, kPos, purchase},
    RouteSpec{verb::post, "/v1/events/refund", Access::keys, kPos, refund},
    RouteSpec{verb::get, "/v1/purchases/{event_id}", Access::keys, kPos, get_purchase},
    RouteSpec{verb::post, "/v1/events:batch", Access::keys, kPos, batch},
    RouteSpec{verb::post, "/v1/holds", Access::keys, kPos, create_hold},
    RouteSpec{verb::get, "/v1/holds/{hold_id}", Access::keys, kPos, get_hold},
    RouteSpec{verb::post, "/v1/holds/{hold_id}:capture", Access::keys, kPos, capture_hold},
    RouteSpec{verb::post, "/v1/holds/{hold_id}:void", Access::keys, kPos, void_hold},
    // The points mall (api.md "Rewards and coupons"): a member token may see the catalog and
    // its own, redeem for itself and cancel its own coupons.
    RouteSpec{verb::get, "/v1/rewards", Access::member_any, kAnyKey, rewards},
    RouteSpec{verb::get, "/v1/members/{member_id}/rewards", Access::member_read, kAnyKey,
              member_rewards, Placement::member_partition},
    RouteSpec{verb::post, "/v1/members/{member_id}/rewards/{reward_id}:redeem", Access::member_self,
              kAnyKey, redeem_reward},
    RouteSpec{verb::get, "/v1/members/{member_id}/coupons", Access::member_read, kAnyKey,
              member_coupons, Placement::member_partition},
    RouteSpec{verb::get, "/v1/coupons/{code}", Access::keys, kPos, check_coupon},
    RouteSpec{verb::post, "/v1/coupons/{code}:use", Access::keys, kPos, use_coupon},
    RouteSpec{verb::post, "/v1/coupons/{code}:cancel", Access::member_any, kApp, cancel_coupon},
    // The program: any key may read it; changing it is the admin's (api.md).
    RouteSpec{verb::get, "/v1/program", Access::keys, kAnyKey, get_program},
    RouteSpec{verb::put, "/v1/program", Access::keys, kAdmin, put_program},
    RouteSpec{verb::post, "/v1/program:validate", Access::keys, kAdmin, validate_program},
    RouteSpec{verb::get, "/v1/program/versions", Access::keys, kAdmin, list_program_versions},
    RouteSpec{verb::get, "/v1/program/versions/{version}", Access::keys, kAdmin,
              get_program_version},
    RouteSpec{verb::get, "/v1/stats", Access::keys, kAdmin, stats},
    RouteSpec{verb::get, "/v1/jobs", Access::keys, kAdmin, list_jobs},
    RouteSpec{verb::post, "/v1/jobs", Access::keys, kAdmin, post_job},
    RouteSpec{verb::get, "/v1/jobs/{job_id}", Access::keys, kAdmin, get_job},
    RouteSpec{verb::post, "/v1/backups", Access::keys, kAdmin, post_backup},
    RouteSpec{verb::post, "/v1/webhooks", Access::keys, kAdmin, create_webhook},
    RouteSpec{verb::get, "/v1/webhooks", Access::keys, kAdmin, list_webhooks},
    RouteSpec{verb::get, "/v1/webhooks/{webhook_id}", Access::keys, kAdmin, get_webhook},
    RouteSpec{verb::patch, "/v1/webhooks/{webhook_id}", Access::keys, kAdmin, update_webhook},
    RouteSpec{verb::delete_, "/v1/webhooks/{webhook_id}", Access::keys, kAdmin, delete_webhook},
    RouteSpec{verb::post, "/v1/webhooks/{webhook_id}/secret:rotate", Access::keys, kAdmin,
              rotate_webhook_secret},
    RouteSpec{verb::post, "/v1/webhooks/{webhook_id}:test", Access::keys, kAdmin, test_webhook},
    RouteSpec{verb::get, "/v1/webhooks/{webhook_id}/deliveries", Access::keys, kAdmin,
              webhook_deliveries},
    RouteSpec{verb::post, "/v1/webhooks/{webhook_id}:replay", Access::keys, kAdmin, replay_webhook},
    RouteSpec{verb::get, "/v1/cluster", Access::keys, kAdmin, get_cluster},
    // Authorized per message by the WebSocket session (ws_session.cpp).
    RouteSpec{verb::get, "/v1/stream", Access::open, {}, nullptr},
    RouteSpec{verb::get, "/v1/openapi.json", Access::open, {}, openapi},
    RouteSpec{verb::get, "/healthz", Access::open, {}, healthz},
    RouteSpec{verb::get, "/readyz", Access::open, {}, readyz},
    RouteSpec{verb::get, "/metrics", Access::open, {}, metrics},  // Prometheus scrapes without keys
};

}  // namespace

std::span<const RouteSpec> routes() { return kRoutes; }

}  // namespace loyalty::api
