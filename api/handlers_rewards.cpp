// The points mall (api.md "Rewards and coupons"): the catalog, a member's catalog and coupons
// (reads, straight from the program and the store), and redeeming, using and cancelling
// (through the runtime). Codes in paths are read case-insensitively; one whose check character
// does not match is answered 404 without a lookup.
#include <boost/json/array.hpp>

#include "api/cluster_reads.hpp"
#include "api/handlers.hpp"
#include "api/request_parsing.hpp"
#include "api/responses.hpp"
#include "api/responses_rewards.hpp"
#include "engine/claim_keys.hpp"
#include "engine/coupon_code.hpp"
#include "engine/runtime/runtime.hpp"

namespace loyalty::api {
namespace json = boost::json;

namespace {

constexpr size_t kCouponsLimitDefault = 50;
constexpr size_t kCouponsLimitMax = 500;  // as the ledger's pages

HttpResponse member_not_found() {
  return problem_response(ErrorCode::not_found, "no member with this id", "member_id");
}

// The units left of a reward with a stock limit (nullopt: none), as a catalog shows them.
using StockLeftOf = std::function<std::optional<int64_t>(const Reward&)>;

// Answers with render(stock left of) for `rewards`: at once in single mode (the runtime's
// count), once their home partitions have counted in cluster mode (docs/decisions.md "Stock in
// cluster mode"). `render` may then run on a runtime writer thread: it must not read the store.
template <class Render>
RouteResult with_stock_left(const ApiContext& context, const std::vector<const Reward*>& rewards,
                            Render render) {
  if (context.cluster_reads == nullptr) {
    return render([&context](const Reward& reward) -> std::optional<int64_t> {
      return context.runtime != nullptr ? context.runtime->stock_left(reward) : std::nullopt;
    });
  }
  std::vector<std::string> stocked;
  for (const Reward* reward : rewards) {
    if (reward->stock) stocked.push_back(reward->id);
  }
  return Deferred{[cluster = context.cluster_reads, stocked = std::move(stocked),
                   render = std::move(render)](Respond respond) mutable {
    cluster->stock_left(
        std::move(stocked), [render = std::move(render), respond = std::move(respond)](
                                std::optional<ClusterReads::StockLeft> left) mutable {
          if (!left) {
            respond(problem_response(ErrorCode::unavailable,
                                     "a reward's stock was not counted in time; retry shortly"));
            return;
          }
          respond(render([&left](const Reward& reward) -> std::optional<int64_t> {
            const auto it = left->find(reward.id);
            return it == left->end() ? std::nullopt : it->second;
          }));
        });
  }};
}

std::vector<const Reward*> every_reward(const Program& program) {
  std::vector<const Reward*> rewards;
  for (const Reward& reward : program.rewards) rewards.push_back(&reward);
  return rewards;
}

// The stored coupon of a code from a path; on success `out` holds it, else the response to send.
std::optional<HttpResponse> load_coupon(const ApiContext& context, std::string_view typed,
                                        std::optional<StoredCoupon>& out) {
  const std::optional<std::string> code = parse_coupon_code(typed);
  if (!code) return coupon_not_found_response();
  if (Status status = context.store->load_coupon(*code, out); !status.ok()) {
    return problem_response(storage_problem(status, "load_coupon"));
  }
  if (!out) return coupon_not_found_response();
  return std::nullopt;
}

Reply coupon_reply(const EventResult& result, http::status status, TimeMs now) {
  return reply_from<CouponAnswer>(result, "coupon", [&](const CouponAnswer& answer) -> Reply {
    json::object body = coupon_json(result.member_id, answer.coupon, now);
    body["points_returned"] = answer.coupon.state == CouponState::cancelled ? answer.points : 0;
    body["balance"] = balance_json(answer.balance);
    body["replayed"] = result.replayed;
    return Success{status, std::move(body)};
  });
}

}  // namespace

HttpResponse coupon_not_found_response() {
  return problem_response(ErrorCode::not_found, "no coupon with this code", "code");
}

RouteResult handle_rewards(const ApiContext& context) {
  const std::shared_ptr<const ProgramVersion> program = context.programs->active();
  return with_stock_left(
      context, every_reward(program->program), [program](const StockLeftOf& stock_left) {
        json::array rewards;
        for (const Reward& reward : program->program.rewards) {
          rewards.emplace_back(reward_json(reward, stock_left(reward)));
        }
        return json_response(http::status::ok, json::object{{"program_version", program->number},
                                                            {"rewards", std::move(rewards)}});
      });
}

RouteResult handle_member_rewards(const ApiContext& context, std::string_view member_id) {
  if (!is_valid_id(member_id)) return member_not_found();
  std::optional<MemberState> member;
  if (Status status = context.store->load_member(member_id, member); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  if (!member) return member_not_found();
  const std::shared_ptr<const ProgramVersion> program = context.programs->active();
  const TimeMs now = context.clock();
  return with_stock_left(
      context, every_reward(program->program),
      [program, now, member = std::move(*member)](const StockLeftOf& stock_left) {
        json::array rewards;
        for (const Reward& reward : program->program.rewards) {
          const std::optional<int64_t> left = stock_left(reward);
          const RewardStanding standing =
              reward_standing(program->program, member, reward, now, left);
          rewards.emplace_back(member_reward_json(reward, standing, left));
        }
        return json_response(http::status::ok,
                             json::object{{"member_id", member.member_id},
                                          {"program_version", program->number},
                                          {"balance", balance_json(member.balance)},
                                          {"tier", program->program.tier_name(member.tier_index)},
                                          {"rewards", std::move(rewards)}});
      });
}

RouteResult handle_redeem_reward(const ApiContext& context, const HttpRequest& request,
                                 std::string_view member_id, std::string_view reward_id) {
  if (!is_valid_id(member_id)) return member_not_found();
  Parsed<RewardRedeemEvent> parsed =
      parse_reward_redeem_request(request.body(), std::string(member_id), std::string(reward_id));
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  RewardRedeemEvent& redeem = std::get<RewardRedeemEvent>(parsed);
  std::string redemption_id = redeem.redemption_id;
  return submit_and_reply(
      context, Event{std::move(redeem)},
      [context, redemption_id = std::move(redemption_id)](const EventResult& result) {
        return reply_from<CouponAnswer>(
            result, "reward redemption " + redemption_id, [&](const CouponAnswer& answer) -> Reply {
              json::object body;
              body["redemption_id"] = redemption_id;
              body["member_id"] = result.member_id;
              body["reward_id"] = answer.coupon.reward_id;
              body["points"] = answer.points;
              body["balance"] = balance_json(answer.balance);
              body["coupon"] = coupon_json(result.member_id, answer.coupon, context.clock());
              body["replayed"] = result.replayed;
              return Success{created_or_replayed(result.replayed), std::move(body)};
            });
      });
}

HttpResponse handle_member_coupons(const ApiContext& context, std::string_view member_id,
                                   boost::urls::params_view params) {
  if (!is_valid_id(member_id)) return member_not_found();
  size_t limit = kCouponsLimitDefault;
  std::optional<CouponState> state;
  std::optional<CouponCursor> cursor;
  for (const boost::urls::param param : params) {
    if (param.key == "state") {
      state = coupon_state_from_name(param.value);
      if (!state) {
        return problem_response(ErrorCode::invalid_request,
                                "state must be active, used, expired or cancelled", "state");
      }
    } else if (param.key == "limit") {
      uint64_t number = 0;
      if (!parse_decimal(param.value, number) || number < 1 || number > kCouponsLimitMax) {
        return problem_response(ErrorCode::invalid_request,
                                "limit must be an integer from 1 to 500", "limit");
      }
      limit = static_cast<size_t>(number);
    } else if (param.key == "cursor") {
      // "<issued_at ms>-<code>" as coupon_page_json writes it.
      const std::string_view text = param.value;
      const size_t dash = text.find('-');
      uint64_t issued_at = 0;
      if (dash == std::string_view::npos || !parse_decimal(text.substr(0, dash), issued_at) ||
          issued_at > static_cast<uint64_t>(kTimeNever) ||
          !parse_coupon_code(text.substr(dash + 1))) {
        return problem_response(ErrorCode::invalid_request,
                                "cursor must be a next_cursor value from an earlier page",
                                "cursor");
      }
      cursor = CouponCursor{static_cast<TimeMs>(issued_at), std::string(text.substr(dash + 1))};
    } else {
      return problem_response(ErrorCode::invalid_request,
                              "unknown query parameter; use state, limit or cursor", param.key);
    }
  }
  std::optional<MemberState> member;
  if (Status status = context.store->load_member(member_id, member); !status.ok()) {
    return problem_response(storage_problem(status, "load_member"));
  }
  if (!member) return member_not_found();
  CouponPage page;
  if (Status status = context.store->read_member_coupons(member_id, state, cursor, limit, page);
      !status.ok()) {
    return problem_response(storage_problem(status, "read_member_coupons"));
  }
  json::object body = coupon_page_json(member_id, page, context.clock());
  body["member_id"] = member_id;
  return json_response(http::status::ok, std::move(body));
}

RouteResult handle_check_coupon(const ApiContext& context, std::string_view code) {
  std::optional<StoredCoupon> stored;
  if (std::optional<HttpResponse> refusal = load_coupon(context, code, stored)) {
    return std::move(*refusal);
  }
  const TimeMs now = context.clock();
  json::object body = coupon_json(stored->member_id, stored->coupon, now);
  const bool usable =
      stored->coupon.state == CouponState::active && now < stored->coupon.valid_until;
  body["usable"] = usable;
  json::array reasons;
  if (!usable) reasons.emplace_back(error_code_name(ErrorCode::coupon_not_active));
  body["reasons"] = std::move(reasons);
  const std::shared_ptr<const ProgramVersion> program = context.programs->active();
  const Reward* reward = program->program.reward(stored->coupon.reward_id);
  if (reward == nullptr) {
    body["reward"] = nullptr;
    return json_response(http::status::ok, std::move(body));
  }
  return with_stock_left(context, {reward},
                         [program, reward, body = std::move(body)](const StockLeftOf& stock_left) {
                           json::object answer = body;
                           answer["reward"] = reward_json(*reward, stock_left(*reward));
                           return json_response(http::status::ok, std::move(answer));
                         });
}

RouteResult handle_use_coupon(const ApiContext& context, const HttpRequest& request,
                              std::string_view typed, const Principal& principal) {
  const std::optional<std::string> code = parse_coupon_code(typed);
  if (!code) return coupon_not_found_response();
  Parsed<CouponUseEvent> parsed = parse_coupon_use_request(request.body(), *code);
  if (const ParseError* error = std::get_if<ParseError>(&parsed)) return error->to_response();
  CouponUseEvent& use = std::get<CouponUseEvent>(parsed);
  if (Rejection refused = authorize_store(principal, use.store_id); !refused.ok()) {
    return problem_response(refused);
  }
  return submit_and_reply(context, Event{std::move(use)}, [context](const EventResult& result) {
    return coupon_reply(result, http::status::ok, context.clock());
  });
}

RouteResult handle_cancel_coupon(const ApiContext& context, const HttpRequest& request,
                                 std::string_view typed, const Principal& principal) {
  if (std::optional<ParseError> error = check_empty_request(request.body())) {
    return error->to_response();
  }
  const std::optional<std::string> code = parse_coupon_code(typed);
  if (!code) return coupon_not_found_response();
  CouponCancelEvent cancel;
  cancel.code = *code;
  auto submit = [context, cancel]() {
    return submit_and_reply(context, Event{cancel}, [context](const EventResult& result) {
      return coupon_reply(result, http::status::ok, context.clock());
    });
  };
  if (principal.is_member_token() && context.cluster_reads != nullptr) {
    // Cluster mode: whose the coupon is, its code's claim says.
    return Deferred{[context, code = *code, scope = *principal.member_scope,
                     submit](Respond respond) mutable {
      context.cluster_reads->whose(
          identifier_claim_key(IdentifierKind::coupon_code, code),
          [scope, submit, respond](std::optional<std::string> owner) mutable {
            if (!owner) {
              respond(problem_response(ErrorCode::unavailable,
                                       "the coupon's owner was not found in time; retry shortly"));
            } else if (owner->empty()) {
              respond(coupon_not_found_response());
            } else if (*owner != scope) {
              respond(problem_response(ErrorCode::forbidden, "this coupon is another member's",
                                       "code"));
            } else {
              submit().start(std::move(respond));
            }
          });
    }};
  }
  if (principal.is_member_token()) {
    // A member cancels only its own coupons (as a member token reads only its own member).
    std::optional<StoredCoupon> stored;
    if (std::optional<HttpResponse> refusal = load_coupon(context, *code, stored)) {
      return std::move(*refusal);
    }
    if (stored->member_id != *principal.member_scope) {
      return problem_response(ErrorCode::forbidden, "this coupon is another member's", "code");
    }
  }
  return submit();
}

}  // namespace loyalty::api
