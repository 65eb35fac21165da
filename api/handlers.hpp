// Endpoint handlers, called by the router once the path matched and the caller is authorized.
// Grouped by resource: handlers_members.cpp (sign-up, reads, referrals), handlers_events.cpp
// (purchases, refunds), handlers_batch.cpp, handlers_quotes.cpp, handlers_points.cpp
// (redemptions, adjustments), handlers_holds.cpp, handlers_rewards.cpp, handlers_program.cpp,
// handlers_jobs.cpp, handlers_health.cpp.
// Thread-safety: as route().
#pragma once

#include <boost/url/params_view.hpp>
#include <string_view>

#include "api/logger.hpp"
#include "api/reply.hpp"
#include "api/router.hpp"

namespace loyalty::api {

// POST /v1/members → 201 member view; 200 + replayed on an identical repeat.
RouteResult handle_signup(const ApiContext& context, const HttpRequest& request);
// GET /v1/members/{member_id}
HttpResponse handle_get_member(const ApiContext& context, std::string_view member_id);
// PATCH /v1/members/{member_id} (app, admin): {phone?, card_no?, profile?, blocked?} → 200 the
// member view; a phone or card another member has is 409 identifier_taken.
RouteResult handle_update_member(const ApiContext& context, const HttpRequest& request,
                                 std::string_view member_id, const Principal& principal);
// POST /v1/members/{member_id}:erase (admin): {erasure_id, reason} → 200 {member, purged,
// events_blanked} once the member's phone, card and profile are gone from the data folder
// (storage/erasure.hpp); a repeat of an erasure_id is a replay.
RouteResult handle_erase_member(const ApiContext& context, const HttpRequest& request,
                                std::string_view member_id, const Principal& principal);
// GET /v1/members?query=&tier=&joined_from=&joined_to=&limit=&cursor= (api/member_search.hpp):
// this store's page.
struct MemberSearch;
HttpResponse handle_search_members(const ApiContext& context, const MemberSearch& search);
// GET /v1/members:lookup?phone=… | ?card_no=…
HttpResponse handle_lookup(const ApiContext& context, boost::urls::params_view params);
// Its query: the identifier named, or the refusal (400 naming the parameter); and its 404.
struct IdentifierQuery {
  IdentifierKind kind = IdentifierKind::phone;
  std::string field;  // "phone" or "card_no"
  std::string value;
};
std::variant<IdentifierQuery, HttpResponse> parse_lookup_query(boost::urls::params_view params);
HttpResponse lookup_not_found(const IdentifierQuery& query);
// GET /v1/members/{member_id}/ledger?limit=&cursor=
HttpResponse handle_ledger(const ApiContext& context, std::string_view member_id,
                           boost::urls::params_view params);
// GET /v1/members/{member_id}/referrals
HttpResponse handle_referrals(const ApiContext& context, std::string_view member_id);
// GET /v1/members/{id}/notifications?after_seq=&limit=: the member's feed as the WebSocket
// pushes it, for catching up without a socket (and for a cluster node catching a subscriber up).
HttpResponse handle_notifications(const ApiContext& context, std::string_view member_id,
                                  boost::urls::params_view params);

// POST /v1/events/purchase (pos keys only for their stores).
RouteResult handle_purchase(const ApiContext& context, const HttpRequest& request,
                            const Principal& principal);
// POST /v1/events/refund (pos keys only for purchases made at their stores).
RouteResult handle_refund(const ApiContext& context, const HttpRequest& request,
                          const Principal& principal, bool forwarded);
// POST /v1/events:batch: purchases and refunds, a result per event in order.
RouteResult handle_batch(const ApiContext& context, const HttpRequest& request,
                         const Principal& principal);
// POST /v1/quotes: what a basket would earn; changes nothing. In cluster mode (not
// `forwarded`) the owner of the member's partition answers it.
RouteResult handle_quote(const ApiContext& context, const HttpRequest& request,
                         const Principal& principal, bool forwarded);

// POST /v1/members/{member_id}/redemptions → 201; 200 + replayed on an identical repeat.
RouteResult handle_redemption(const ApiContext& context, const HttpRequest& request,
                              std::string_view member_id);
// POST /v1/members/{member_id}/adjustments → 201; 200 + replayed on an identical repeat.
// The ledger names `principal` as the adjustment's actor.
RouteResult handle_adjustment(const ApiContext& context, const HttpRequest& request,
                              std::string_view member_id, const Principal& principal);

// POST /v1/holds → 201 hold view; 200 + replayed on an identical repeat.
RouteResult handle_create_hold(const ApiContext& context, const HttpRequest& request);
// POST /v1/holds/{hold_id}:capture | :void (`kind` hold_capture | hold_void) → 200 hold view.
RouteResult handle_hold_action(const ApiContext& context, const HttpRequest& request,
                               std::string_view hold_id, EventType kind);
// GET /v1/holds/{hold_id}
HttpResponse handle_get_hold(const ApiContext& context, std::string_view hold_id);
HttpResponse hold_not_found();  // its 404

// The points mall (handlers_rewards.cpp). GET /v1/rewards: the active program's catalog.
RouteResult handle_rewards(const ApiContext& context);
// GET /v1/members/{member_id}/rewards: the catalog for the member, with what stops each now.
RouteResult handle_member_rewards(const ApiContext& context, std::string_view member_id);
// POST /v1/members/{member_id}/rewards/{reward_id}:redeem → 201; 200 + replayed on a repeat.
RouteResult handle_redeem_reward(const ApiContext& context, const HttpRequest& request,
                                 std::string_view member_id, std::string_view reward_id);
// GET /v1/members/{member_id}/coupons?state=&limit=&cursor=: newest first.
HttpResponse handle_member_coupons(const ApiContext& context, std::string_view member_id,
                                   boost::urls::params_view params);
// GET /v1/coupons/{code}: the coupon, whether it can be used now and why not; changes nothing.
RouteResult handle_check_coupon(const ApiContext& context, std::string_view code);
// POST /v1/coupons/{code}:use (pos keys for their stores) → 200 the coupon, used.
RouteResult handle_use_coupon(const ApiContext& context, const HttpRequest& request,
                              std::string_view code, const Principal& principal);
// POST /v1/coupons/{code}:cancel (app, admin, a member token for its own) → 200 the coupon,
// cancelled, with the points returned.
RouteResult handle_cancel_coupon(const ApiContext& context, const HttpRequest& request,
                                 std::string_view code, const Principal& principal);
HttpResponse coupon_not_found_response();  // its 404

// GET /v1/program: the active version. PUT /v1/program (admin): the TOML body becomes a version
// and is activated without a restart. POST /v1/program:validate (admin): the same checks only.
HttpResponse handle_get_program(const ApiContext& context);
HttpResponse handle_list_program_versions(const ApiContext& context);
HttpResponse handle_get_program_version(const ApiContext& context, std::string_view number);
HttpResponse handle_put_program(const ApiContext& context, const HttpRequest& request);
HttpResponse handle_validate_program(const HttpRequest& request);

// GET /v1/purchases/{event_id} (pos, admin): the purchase with what each rule and line earned.
HttpResponse handle_get_purchase(const ApiContext& context, std::string_view event_id,
                                 const Principal& principal);
HttpResponse purchase_not_found();  // its 404

// GET /v1/stats (admin): the program's figures for the console's overview (api/stats_figures.hpp).
RouteResult handle_stats(const ApiContext& context, const HttpRequest& request,
                         const std::optional<Principal>& principal, boost::urls::params_view params,
                         bool forwarded);

// GET /v1/jobs (admin): every job, newest first; ?state= ?type= ?limit= ?cursor=.
HttpResponse handle_list_jobs(const ApiContext& context, boost::urls::params_view params);

// POST /v1/jobs (admin) → 202 with the job, new or the existing one of the same id.
HttpResponse handle_post_job(const ApiContext& context, const HttpRequest& request,
                             const Principal& principal);
// GET /v1/jobs/{job_id} (admin): the job document, or with Accept: text/csv a finished
// recalculation's report as CSV.
HttpResponse handle_get_job(const ApiContext& context, const HttpRequest& request,
                            std::string_view job_id);
// Webhooks (admin; api/handlers_webhooks.cpp, api.md "Webhooks").
HttpResponse handle_create_webhook(const ApiContext& context, const HttpRequest& request);
HttpResponse handle_list_webhooks(const ApiContext& context);
HttpResponse handle_get_webhook(const ApiContext& context, std::string_view id);
HttpResponse handle_update_webhook(const ApiContext& context, const HttpRequest& request,
                                   std::string_view id);
HttpResponse handle_delete_webhook(const ApiContext& context, std::string_view id);
HttpResponse handle_rotate_webhook_secret(const ApiContext& context, const HttpRequest& request,
                                          std::string_view id);
RouteResult handle_test_webhook(const ApiContext& context, const HttpRequest& request,
                                std::string_view id);
// Cluster mode: each node lists the attempts it made itself (`forwarded`: in every state), and
// merge_delivery_pages makes one page of every node's (each of the same query), a message's
// records merged, in message order.
HttpResponse handle_webhook_deliveries(const ApiContext& context, std::string_view id,
                                       boost::urls::params_view query, bool forwarded = false);
HttpResponse merge_delivery_pages(std::vector<HttpResponse> pages, boost::urls::params_view query);
HttpResponse handle_replay_webhook(const ApiContext& context, const HttpRequest& request,
                                   std::string_view id);
// POST /v1/backups (admin) {to?} → 202 the backup's job document.
HttpResponse handle_post_backup(const ApiContext& context, const HttpRequest& request,
                                const Principal& principal);

// GET /v1/cluster (admin): this node's view of the cluster; 404 in single mode.
HttpResponse handle_get_cluster(const ApiContext& context);

// GET /healthz, GET /readyz (no auth).
HttpResponse handle_healthz();
HttpResponse handle_readyz(const ApiContext& context);

// A query parameter's unsigned decimal (limit=, after_seq=, a cursor's numbers): digits only.
bool parse_decimal(std::string_view text, uint64_t& out);

// The problem for a refusal of the engine: invalid_request there is about meaning (422).
Problem runtime_problem(const Rejection& rejection);
// The problem for an event the runtime did not apply: 503 when storage failed (the details are
// logged, not sent), else its refusal.
Problem result_problem(const EventResult& result);

// 503 unavailable for a failed store operation; the status message (which may name files) is
// logged with `what`, never sent.
Problem storage_problem(const Status& status, std::string_view what);

// 503 for an applied event whose answer is not of the expected kind (a bug; logged).
Problem missing_answer(std::string_view what);

// The reply to an event the runtime finished: its refusal, or render(answer) when the answer
// is a T.
template <class T, class Render>
Reply reply_from(const EventResult& result, std::string_view what, Render&& render) {
  if (!result.rejection.ok()) return result_problem(result);
  const T* answer = std::get_if<T>(&result.answer);
  if (answer == nullptr) return missing_answer(what);
  return render(*answer);
}

// Runtime::submit for a request being handled: `done` runs on a writer thread inside a
// RequestLogScope of the submitting request, so what it logs carries the request id.
template <class Done>
void submit_for_request(Runtime& runtime, Event event, Done done) {
  runtime.submit(std::move(event), [request_id = std::string(current_request_id()),
                                    done = std::move(done)](EventResult&& result) mutable {
    const RequestLogScope scope(request_id);
    done(std::move(result));
  });
}

// Submits `event` to the runtime when the session starts the step, and answers with
// to_response(render(result)). `render` runs on a runtime writer thread: keep it short.
template <class Render>
Deferred submit_and_reply(const ApiContext& context, Event event, Render render) {
  return Deferred{[context, event = std::move(event),
                   render = std::move(render)](Respond respond) mutable {
    submit_for_request(*context.runtime, std::move(event),
                       [render = std::move(render), respond = std::move(respond)](
                           EventResult&& result) mutable { respond(to_response(render(result))); });
  }};
}

// 201 for a new resource, 200 for an identical repeat.
inline http::status created_or_replayed(bool replayed) {
  return replayed ? http::status::ok : http::status::created;
}

}  // namespace loyalty::api
