// Renders engine events as JSON bodies and FlatBuffers frames (see wire_format.hpp).
#include "bench/loadgen/wire_format.hpp"

#include <flatbuffers/flatbuffers.h>

#include <vector>

#include "api/wire_generated.h"
#include "engine/time.hpp"

namespace loyalty::bench {
namespace {

void field(std::string& out, std::string_view name, std::string_view text) {
  out += '"';
  out += name;
  out += "\":\"";
  out += text;
  out += "\",";
}

void field(std::string& out, std::string_view name, int64_t number) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(number);
  out += ',';
}

void close_object(std::string& out) {
  if (!out.empty() && out.back() == ',') out.pop_back();
  out += '}';
}

void purchase_fields(const PurchaseEvent& p, std::string& out) {
  field(out, "event_id", p.event_id);
  field(out, "member_id", p.member_id);
  field(out, "store_id", p.store_id);
  field(out, "occurred_at", format_rfc3339(p.occurred_at));
  field(out, "currency", p.currency);
  out += "\"lines\":[";
  for (size_t i = 0; i < p.lines.size(); ++i) {
    const PurchaseLine& line = p.lines[i];
    out += i == 0 ? "{" : ",{";
    field(out, "sku", line.sku);
    field(out, "category", line.category);
    field(out, "quantity", line.quantity);
    field(out, "amount_minor", line.amount_minor);
    close_object(out);
  }
  out += "],";
}

void refund_fields(const RefundEvent& r, std::string& out) {
  field(out, "event_id", r.event_id);
  field(out, "original_event_id", r.original_event_id);
  field(out, "occurred_at", format_rfc3339(r.occurred_at));
  if (r.amount_minor) field(out, "amount_minor", *r.amount_minor);
}

}  // namespace

HttpCall http_call(const Event& event) {
  HttpCall call;
  std::string& body = call.body;
  body = "{";
  if (const auto* p = std::get_if<PurchaseEvent>(&event.body)) {
    call.target = "/v1/events/purchase";
    purchase_fields(*p, body);
  } else if (const auto* r = std::get_if<RefundEvent>(&event.body)) {
    call.target = "/v1/events/refund";
    refund_fields(*r, body);
  } else if (const auto* d = std::get_if<RedemptionEvent>(&event.body)) {
    call.target = "/v1/members/" + d->member_id + "/redemptions";
    field(body, "redemption_id", d->redemption_id);
    field(body, "points", d->points);
    if (!d->reward_id.empty()) field(body, "reward_id", d->reward_id);
  } else if (const auto* s = std::get_if<SignupEvent>(&event.body)) {
    call.target = "/v1/members";
    call.role = Role::app;
    field(body, "member_id", s->member_id);
    if (!s->phone.empty()) field(body, "phone", s->phone);
    if (!s->referral_code.empty()) field(body, "referral_code", s->referral_code);
  }
  close_object(body);
  return call;
}

std::string http_request_text(const HttpCall& call, std::string_view host, std::string_view key) {
  std::string text;
  text.reserve(call.body.size() + 256);
  text += "POST ";
  text += call.target;
  text += " HTTP/1.1\r\nHost: ";
  text += host;
  text += "\r\nAuthorization: Bearer ";
  text += key;
  text += "\r\nContent-Type: application/json\r\nContent-Length: ";
  text += std::to_string(call.body.size());
  text += "\r\n\r\n";
  text += call.body;
  return text;
}

bool stream_event_json(const Event& event, std::string& out) {
  out = "{";
  if (const auto* p = std::get_if<PurchaseEvent>(&event.body)) {
    field(out, "type", "purchase");
    purchase_fields(*p, out);
  } else if (const auto* r = std::get_if<RefundEvent>(&event.body)) {
    field(out, "type", "refund");
    refund_fields(*r, out);
  } else {
    return false;
  }
  close_object(out);
  return true;
}

bool ws_text_frame(const Event& event, std::string& out) {
  std::string inner;
  if (!stream_event_json(event, inner)) return false;
  out = "{\"op\":\"event\",\"event\":";
  out += inner;
  out += '}';
  return true;
}

bool ws_binary_frame(const Event& event, std::string& out) {
  // One builder per thread, reused: frames are made at the full rate.
  thread_local flatbuffers::FlatBufferBuilder builder(1024);
  builder.Clear();
  flatbuffers::Offset<wire::EventFrame> frame;
  if (const auto* p = std::get_if<PurchaseEvent>(&event.body)) {
    std::vector<flatbuffers::Offset<wire::PurchaseLine>> lines;
    lines.reserve(p->lines.size());
    for (const PurchaseLine& line : p->lines) {
      lines.push_back(wire::CreatePurchaseLineDirect(
          builder, line.sku.c_str(), line.category.c_str(), line.quantity, line.amount_minor));
    }
    const std::string at = format_rfc3339(p->occurred_at);
    const auto purchase = wire::CreatePurchaseDirect(
        builder, p->event_id.c_str(), p->member_id.c_str(), p->store_id.c_str(), at.c_str(),
        p->currency.c_str(), &lines, p->redeem_points);
    frame = wire::CreateEventFrame(builder, wire::EventBody::Purchase, purchase.Union());
  } else if (const auto* r = std::get_if<RefundEvent>(&event.body)) {
    const std::string at = format_rfc3339(r->occurred_at);
    const auto refund = wire::CreateRefundDirect(
        builder, r->event_id.c_str(), r->original_event_id.c_str(), at.c_str(),
        r->amount_minor ? flatbuffers::Optional<int64_t>(*r->amount_minor) : flatbuffers::nullopt);
    frame = wire::CreateEventFrame(builder, wire::EventBody::Refund, refund.Union());
  } else {
    return false;
  }
  builder.Finish(frame);
  out.assign(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
  return true;
}

}  // namespace loyalty::bench
