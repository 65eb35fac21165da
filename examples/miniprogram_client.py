#!/usr/bin/env python3
"""A mini-program-style client: follows one member over the WebSocket feed and prints pushes.

Runs against the default server (scripts/run.sh: http://127.0.0.1:8080, the development keys
and member-token secret of config/server.toml). Needs Python's `websockets` (Debian:
python3-websockets); everything else is the standard library.

    examples/miniprogram_client.py [--url http://127.0.0.1:8080] [--key APP_KEY] [--member ID]
                                   [--demo-purchases N] [--redeem REWARD_ID] [--count N]
                                   [--seconds S]

What it does, as a mini-program and its backend would:
1. the backend signs the member up with its app key (--key) if needed, and issues the member a
   token: an HS256 JWT {sub: member id, exp} signed with the configured secret (--token-secret);
2. the mini-program opens ws://…/v1/stream?token=<jwt> (wss:// with TLS) (browsers and mini-programs cannot
   set headers), subscribes to its member with after_seq (to catch up on what it missed) and
   prints every frame the server pushes;
3. with --demo-purchases N, a till (--pos-key) posts N purchases for the member so that there is
   something to see;
4. with --redeem REWARD_ID, the member opens the catalog ("what can I get now", with the member
   token) and presses redeem: the coupon comes back, and the feed pushes reward.redeemed.
It stops after --count pushes or --seconds without one, and prints the last seq it saw: pass it
back as --after-seq to catch up after a reconnect.
"""
import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def member_token(secret, member_id, ttl_seconds):
    """What the app backend issues: an HS256 JWT with the member id as `sub`."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": member_id,
                                "exp": int(time.time()) + ttl_seconds}).encode())
    signing_input = f"{header}.{claims}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


def rest(url, key, method, path, body, ok=(200, 201)):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url.rstrip("/") + path, method=method, data=data)
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    answer = json.loads(text) if text else {}
    if status not in ok:
        raise RuntimeError(f"{method} {path}: {status} {answer.get('code')}: {answer.get('detail')}")
    return status, answer


def show(title, frame):
    print(f"== {title}")
    print(json.dumps(frame, indent=2, sort_keys=True))
    sys.stdout.flush()


def stream_url(url, token):
    parts = urllib.parse.urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urllib.parse.urlencode({"token": token})
    return urllib.parse.urlunsplit((scheme, parts.netloc, "/v1/stream", query, ""))


def demo_purchases(args, member_id, count):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    run = secrets.token_hex(4)
    for n in range(count):
        body = {"event_id": f"mp-{run}-{n}", "member_id": member_id, "store_id": args.store,
                "occurred_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "currency": args.currency,
                "lines": [{"sku": "latte-l", "category": "beverage", "quantity": 1,
                           "amount_minor": args.demo_amount}]}
        rest(args.url, args.pos_key, "POST", "/v1/events/purchase", body)


def redeem(args, member_id, token):
    """The catalog as the member sees it, then the redeem button, both with the member token."""
    status, catalog = rest(args.url, token, "GET", f"/v1/members/{member_id}/rewards", None)
    show(f"catalog ({status})", catalog)
    reward = next((r for r in catalog["rewards"] if r["reward_id"] == args.redeem), None)
    if reward is None or not reward["redeemable"]:
        reasons = reward["reasons"] if reward else ["not in the catalog"]
        raise RuntimeError(f"cannot redeem {args.redeem}: {', '.join(reasons)}")
    redemption_id = f"mp-{member_id}-{secrets.token_hex(4)}"
    status, redeemed = rest(args.url, token, "POST",
                            f"/v1/members/{member_id}/rewards/{args.redeem}:redeem",
                            {"redemption_id": redemption_id})
    show(f"redeem ({status})", redeemed)


async def follow(args, member_id, token):
    last_seq = args.after_seq
    pushes = 0
    async with websockets.connect(stream_url(args.url, token), open_timeout=30) as socket:
        await socket.send(json.dumps({"op": "subscribe", "member_id": member_id,
                                      "after_seq": args.after_seq}))
        # The subscription is confirmed before anything is posted, so no push can be missed.
        frame = json.loads(await asyncio.wait_for(socket.recv(), args.seconds))
        show(frame.get("op", frame.get("type", "frame")), frame)
        if frame.get("op") != "subscribed":
            return 1, last_seq
        if args.demo_purchases:
            await asyncio.get_running_loop().run_in_executor(
                None, demo_purchases, args, member_id, args.demo_purchases)
        if args.redeem:
            await asyncio.get_running_loop().run_in_executor(
                None, redeem, args, member_id, token)
        while pushes < args.count:
            try:
                frame = json.loads(await asyncio.wait_for(socket.recv(), args.seconds))
            except asyncio.TimeoutError:
                break
            if "type" in frame:
                pushes += 1
                last_seq = max(last_seq, frame.get("seq", last_seq))
                show(f"push {frame['type']} seq={frame.get('seq')}", frame)
            else:
                show(frame.get("op", "frame"), frame)
                if frame.get("op") == "error":
                    return 1, last_seq
    return 0, last_seq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the server")
    parser.add_argument("--key", default="loyalty-dev-app-key",
                        help="the backend's app (or admin) key, to sign the member up")
    parser.add_argument("--token-secret", default="dev-only-member-token-secret-change-me",
                        help="[member_tokens] hs256_secret of server.toml (the backend's secret)")
    parser.add_argument("--member", default=None, help="member id (default: a new one)")
    parser.add_argument("--after-seq", type=int, default=0, help="catch up from after this seq")
    parser.add_argument("--count", type=int, default=10, help="stop after this many pushes")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="stop after this long without a frame")
    parser.add_argument("--demo-purchases", type=int, default=0,
                        help="post this many purchases for the member (with --pos-key)")
    parser.add_argument("--pos-key", default="loyalty-dev-pos-key", help="a pos key, for the demo")
    parser.add_argument("--demo-amount", type=int, default=3200,
                        help="minor units of each demo purchase")
    parser.add_argument("--redeem", default=None, metavar="REWARD_ID",
                        help="redeem this reward of the catalog with the member token")
    parser.add_argument("--store", default="s-1")
    parser.add_argument("--currency", default="CNY")
    args = parser.parse_args()

    member_id = args.member or f"mp-demo-{secrets.token_hex(4)}"
    try:
        status, member = rest(args.url, args.key, "POST", "/v1/members", {"member_id": member_id},
                              ok=(200, 201, 409))
        show(f"sign-up ({status})", member)
        token = member_token(args.token_secret, member_id, ttl_seconds=3600)
        code, last_seq = asyncio.run(follow(args, member_id, token))
    except (RuntimeError, OSError, websockets.exceptions.WebSocketException,
            asyncio.TimeoutError) as error:
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"done: last seq {last_seq} (reconnect with --after-seq {last_seq})")
    return code


if __name__ == "__main__":
    sys.exit(main())
