#!/usr/bin/env python3
"""A point-of-sale client: quote a basket, hold points, pay with the hold, refund part of it,
then take a coupon in a sale.

Runs against the default server (scripts/run.sh: http://127.0.0.1:8080, the development keys of
config/server.toml) and prints every request and answer. Standard library only.

    examples/pos_client.py [--url http://127.0.0.1:8080] [--key POS_KEY] [--member ID]

A POS key cannot sign members up, so the member is signed up with --app-key (an app key) when
it does not exist yet, and earns its first points with a purchase before the walk-through.

The coupon part: the member shows a coupon (--coupon CODE, as printed: case and hyphens do not
matter); without one, the till redeems the first reward of the member's catalog it can for the
member (as the member would in the app), checks the code, and sells a latte that uses it.
Every id carries a fresh suffix, so the script can be run again and again on the same server.
"""
import argparse
import datetime
import json
import secrets
import sys
import urllib.error
import urllib.request


class ApiError(Exception):
    def __init__(self, status, problem):
        super().__init__(f"{status} {problem.get('code')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


class Client:
    """Calls the REST API with one bearer key; answers are parsed JSON."""

    def __init__(self, url, key):
        self.url = url.rstrip("/")
        self.key = key

    def call(self, method, path, body=None, ok=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:  # 4xx and 5xx carry a problem+json body
            status, text = error.code, error.read().decode()
        answer = json.loads(text) if text else {}
        if status not in ok:
            raise ApiError(status, answer)
        return status, answer


def now_rfc3339():
    # A second in the past: the server refuses events from the future.
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def show(step, status, answer):
    print(f"== {step} ({status})")
    print(json.dumps(answer, indent=2, sort_keys=True))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server")
    parser.add_argument("--key", default="loyalty-dev-pos-key", help="a pos (or admin) key")
    parser.add_argument("--app-key", default="loyalty-dev-app-key",
                        help="an app (or admin) key, to sign the member up")
    parser.add_argument("--member", default=None, help="member id (default: a new one)")
    parser.add_argument("--store", default="s-1", help="store id the key may post for")
    parser.add_argument("--currency", default="CNY", help="the program's currency")
    parser.add_argument("--coupon", default=None, help="a coupon code the member shows")
    args = parser.parse_args()

    run = secrets.token_hex(4)
    member_id = args.member or f"pos-demo-{run}"
    pos = Client(args.url, args.key)
    app = Client(args.url, args.app_key)

    def purchase_body(event_id, lines, **extra):
        body = {"member_id": member_id, "store_id": args.store, "occurred_at": now_rfc3339(),
                "currency": args.currency, "lines": lines, **extra}
        if event_id is not None:  # a quote needs none
            body["event_id"] = event_id
        return body

    try:
        status, answer = app.call("POST", "/v1/members", {"member_id": member_id},
                                  ok=(200, 201, 409))
        show("sign-up", status, answer)

        # First points for the walk-through: 500.00 of coffee beans.
        beans = [{"sku": "beans-1kg", "category": "retail", "quantity": 2, "amount_minor": 50000}]
        show("purchase (earns points)",
             *pos.call("POST", "/v1/events/purchase", purchase_body(f"pos-{run}-1", beans)))

        basket = [{"sku": "latte-l", "category": "beverage", "quantity": 2, "amount_minor": 6400},
                  {"sku": "croissant", "category": "bakery", "quantity": 1, "amount_minor": 1800}]
        status, quote = pos.call("POST", "/v1/quotes", purchase_body(None, basket))
        show("quote", status, quote)
        points = quote["redeemable_points_max"]
        if points <= 0:
            print("the member cannot pay with points for this basket", file=sys.stderr)
            return 1

        hold_id = f"hold-{run}"
        status, hold = pos.call("POST", "/v1/holds",
                                {"hold_id": hold_id, "member_id": member_id, "points": points,
                                 "ttl_seconds": 300})
        show("hold", status, hold)

        event_id = f"pos-{run}-2"
        status, purchase = pos.call("POST", "/v1/events/purchase",
                                    purchase_body(event_id, basket, hold_id=hold_id))
        show("purchase with hold", status, purchase)

        # The croissant comes back.
        status, refund = pos.call("POST", "/v1/events/refund",
                                  {"event_id": f"pos-{run}-3", "original_event_id": event_id,
                                   "occurred_at": now_rfc3339(),
                                   "lines": [{"sku": "croissant", "amount_minor": 1800}]})
        show("refund", status, refund)

        code = args.coupon
        if code is None:
            status, catalog = pos.call("GET", f"/v1/members/{member_id}/rewards")
            reward = next((r for r in catalog["rewards"] if r["redeemable"]), None)
            if reward is None:
                print("the member can redeem no reward of the catalog", file=sys.stderr)
                return 1
            status, redeemed = pos.call(
                "POST", f"/v1/members/{member_id}/rewards/{reward['reward_id']}:redeem",
                {"redemption_id": f"rr-{run}"})
            show("coupon for the member", status, redeemed)
            code = redeemed["coupon"]["code"]
        # The till reads the code and checks it before the sale: what it gives, or why not.
        status, check = pos.call("GET", f"/v1/coupons/{code}")
        show("check coupon", status, check)
        if not check["usable"]:
            print(f"coupon {code} cannot be used: {check['reasons']}", file=sys.stderr)
            return 1
        latte = [{"sku": "latte-l", "category": "beverage", "quantity": 1, "amount_minor": 3200}]
        status, sale = pos.call("POST", "/v1/events/purchase",
                                purchase_body(f"pos-{run}-4", latte, coupons=[code]))
        show("purchase with coupon", status, sale)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        print(json.dumps(error.problem, indent=2), file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"error: cannot reach {args.url}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
