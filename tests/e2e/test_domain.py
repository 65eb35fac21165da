"""The loyalty domain end to end over HTTP: referrals across partitions, concurrent
redemptions and duplicate purchases, refunds in parts and into debt, holds, batches, quotes,
adjustments and the member view's expiring points.

Times are relative to the real clock (the server refuses events more than 5 minutes in the
future and judges expiry and hold time-outs by it), so the numbers stay exact whenever the
suite runs."""
import hashlib
import json
import os
import re
import socket
import subprocess
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from harness import (ADMIN_KEY, APP_KEY, LOYALTYCTL, POS_KEY, SOURCE_DIR, Server, line,
                     purchase_body)

# 1 point per 100 minor units; 1 point pays 1 minor unit (100 points pay one 100-minor unit).
PROGRAM = """
[program]
id = "e2e-domain"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[tiers]
metric = "spend"
window = "rolling"
window_months = 12
retain_months = 12

[[tiers.levels]]
name = "green"
threshold = 0
multiplier = 1.0

[[tiers.levels]]
name = "gold"
threshold = 10000000
multiplier = 1.5

[referral]
referee_signup_points = 50
referee_first_purchase_points = 100
referrer_points = 200
qualifying_min_amount_minor = 3000
window_days = 30
max_rewarded_referrals = 5

[redemption]
points_per_currency_unit = 100
min_points = 100
max_redeem_fraction = 0.5
hold_ttl_seconds = 900

[expiry]
mode = "days"
days = 365
"""

PARTITIONS = 2
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def at(days=0, hours=0, minutes=0):
    """An RFC 3339 time this long before now."""
    moment = NOW - timedelta(days=days, hours=hours, minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def partition_of(member_id, partitions=PARTITIONS):
    """The runtime's partition of a member: FNV-1a-64 of the id, modulo the partition count
    (engine/runtime/runtime.cpp stable_hash)."""
    h = 0xcbf29ce484222325
    for byte in member_id.encode():
        h ^= byte
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % partitions


SCOPED_POS_KEY = "loyalty-e2e-domain-scoped-pos-key"  # may post for store s-1 only


def server_toml(partitions):
    """The shipped server.toml with `partitions` writers and one more, store-scoped pos key."""
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    text, count = re.subn(r"(?m)^partitions = \d+", f"partitions = {partitions}", text)
    assert count == 1, "config/server.toml should set partitions"
    digest = hashlib.sha256(SCOPED_POS_KEY.encode()).hexdigest()
    return text + f"""
[[api_keys]]
name = "scoped-pos"
role = "pos"
sha256 = "{digest}"
stores = ["s-1"]
"""


def wait_until(check, timeout=15.0, interval=0.05):
    """Polls check() until it returns a true value; returns that value (or the last one)."""
    deadline = time.time() + timeout
    value = check()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = check()
    return value


def run_concurrently(count, call):
    """Runs call(i) for i in range(count) on `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def task(i):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


class Domain(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(PARTITIONS),
                            program_toml=PROGRAM)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    # Helpers --------------------------------------------------------------------------

    def assert_problem(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/problem+json"),
                        r.headers)
        self.assertEqual(r.json["status"], status, r)
        self.assertEqual(r.json["code"], code, r)
        if field is not None:
            self.assertIn(field, [e["field"] for e in r.json.get("errors", [])], r)

    def new_member(self, member_id, **fields):
        fields.setdefault("joined_at", at(days=40))
        r = self.server.signup(member_id, **fields)
        self.assertEqual(r.status, 201, r)
        return r.json

    def buy(self, event_id, member_id, amount_minor, occurred_at=None, **extra):
        body = purchase_body(event_id, member_id, [line("beans", "food", amount_minor)],
                             occurred_at=occurred_at or at(days=1), **extra)
        r = self.server.purchase(body)
        self.assertEqual(r.status, 200, r)
        return r.json

    def refund(self, body, key=POS_KEY):
        return self.server.request("POST", "/v1/events/refund", body, key=key)

    def redeem(self, member_id, redemption_id, points, key=APP_KEY, **extra):
        return self.server.request("POST", f"/v1/members/{member_id}/redemptions",
                                   {"redemption_id": redemption_id, "points": points, **extra},
                                   key=key)

    def hold(self, hold_id, member_id, points, key=POS_KEY, **extra):
        return self.server.request("POST", "/v1/holds",
                                   {"hold_id": hold_id, "member_id": member_id, "points": points,
                                    **extra}, key=key)

    def hold_action(self, hold_id, action, key=POS_KEY):
        return self.server.request("POST", f"/v1/holds/{hold_id}:{action}", key=key)

    def balance(self, member_id):
        r = self.server.member(member_id)
        self.assertEqual(r.status, 200, r)
        return r.json["balance"]

    def ledger(self, member_id):
        r = self.server.request("GET", f"/v1/members/{member_id}/ledger?limit=500")
        self.assertEqual(r.status, 200, r)
        return r.json["entries"]

    def batch(self, raw, content_type="application/json", key=POS_KEY):
        return self.server.request("POST", "/v1/events:batch", raw=raw, key=key,
                                   headers={"Content-Type": content_type})

    # Referrals ------------------------------------------------------------------------

    def test_referral_across_partitions(self):
        s = self.server
        referrer = "ref-alice"
        referee = next(f"ref-bob-{i}" for i in range(100)
                       if partition_of(f"ref-bob-{i}") != partition_of(referrer))
        self.assertNotEqual(partition_of(referrer), partition_of(referee))

        code = self.new_member(referrer, joined_at=at(days=60))["referral_code"]
        view = self.new_member(referee, joined_at=at(days=10), referral_code=code.lower())
        self.assertEqual(view["referred_by"], referrer)
        self.assertEqual(view["balance"]["available"], 50, "referee sign-up points")

        # The first qualifying purchase (eligible 5000 ≥ 3000, 10 days after sign-up).
        first = self.buy("ref-p1", referee, 5000)
        self.assertEqual(first["points_earned"], 150)
        self.assertIn({"rule": "referral:first_purchase", "points": 100}, first["breakdown"])
        self.assertEqual(sum(b["points"] for b in first["breakdown"]), 150)
        self.assertEqual(first["balance"]["available"], 200)

        # The referrer's reward is a follow-up applied in the other partition.
        rewarded = wait_until(lambda: self.balance(referrer)["available"] == 200)
        self.assertTrue(rewarded, self.balance(referrer))
        types = [(e["type"], e["points"]) for e in self.ledger(referrer)]
        self.assertEqual(types, [("referral_bonus", 200)])

        r = s.request("GET", f"/v1/members/{referrer}/referrals", key=APP_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["referral_code"], code)
        self.assertEqual(r.json["rewarded_count"], 1)
        self.assertEqual(len(r.json["referred"]), 1)
        link = r.json["referred"][0]
        self.assertEqual(link["member_id"], referee)
        self.assertEqual(link["status"], "rewarded")
        self.assertIsNotNone(link["rewarded_at"])
        self.assert_problem(s.request("GET", f"/v1/members/{referrer}/referrals", key=POS_KEY),
                            403, "forbidden")
        self.assert_problem(s.request("GET", "/v1/members/nobody/referrals"), 404, "not_found")
        empty = s.request("GET", f"/v1/members/{referee}/referrals").json
        self.assertEqual((empty["referred"], empty["rewarded_count"]), ([], 0))

        # Exactly once: a second purchase rewards nobody, and a replay changes nothing.
        second = self.buy("ref-p2", referee, 5000)
        self.assertEqual(second["points_earned"], 50)
        replay = s.purchase(purchase_body("ref-p1", referee, [line("beans", "food", 5000)],
                                          occurred_at=at(days=1)))
        self.assertTrue(replay.json["replayed"], replay)
        time.sleep(0.3)
        self.assertEqual(self.balance(referrer)["available"], 200)

        # A full refund of the triggering purchase claws both rewards back.
        r = self.refund({"event_id": "ref-r1", "original_event_id": "ref-p1",
                         "occurred_at": at(hours=2), "amount_minor": 5000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["member_id"], referee)
        self.assertEqual(r.json["points_reversed"], 50)
        self.assertEqual(r.json["referral_reversed"], 100)
        self.assertEqual(r.json["remaining_minor"], 0)
        self.assertEqual(r.json["balance"]["available"], 50 + 150 + 50 - 150)
        clawed = wait_until(lambda: self.balance(referrer)["available"] == 0)
        self.assertTrue(clawed, self.balance(referrer))
        self.assertEqual(self.ledger(referrer)[0]["type"], "referral_reversal")
        after = s.request("GET", f"/v1/members/{referrer}/referrals").json
        self.assertEqual(after["referred"][0]["status"], "reversed")
        self.assertEqual(after["rewarded_count"], 0)

    # Concurrency ----------------------------------------------------------------------

    def test_concurrent_redemptions_never_overspend(self):
        member = "conc-redeem"
        self.new_member(member)
        self.assertEqual(self.buy("conc-redeem-p", member, 50000)["balance"]["available"], 500)
        results = run_concurrently(
            16, lambda i: self.redeem(member, f"conc-redeem-{i}", 400))
        statuses = sorted(r.status for r in results)
        self.assertEqual(statuses, [201] + [422] * 15, results)
        for r in results:
            if r.status == 422:
                self.assert_problem(r, 422, "insufficient_points")
            else:
                self.assertEqual(r.json["points"], 400)
                self.assertEqual(r.json["balance"]["available"], 100)
                self.assertFalse(r.json["replayed"])
        self.assertEqual(self.balance(member), {"available": 100, "pending": 0, "held": 0})
        redeems = [e for e in self.ledger(member) if e["type"] == "redeem"]
        self.assertEqual([e["points"] for e in redeems], [-400])

    def test_concurrent_copies_of_one_purchase_apply_once(self):
        member = "conc-dup"
        self.new_member(member)
        body = purchase_body("conc-dup-p", member, [line("beans", "food", 12345)],
                             occurred_at=at(days=1))
        results = run_concurrently(20, lambda i: self.server.purchase(body))
        self.assertEqual([r.status for r in results], [200] * 20, results)
        self.assertEqual(sum(1 for r in results if not r.json["replayed"]), 1)
        for r in results:
            self.assertEqual(r.json["points_earned"], 123)
            self.assertEqual(r.json["balance"]["available"], 123)
        view = self.server.member(member).json
        self.assertEqual(view["balance"]["available"], 123)
        self.assertEqual(view["purchase_count"], 1)
        self.assertEqual(len(self.ledger(member)), 1)

    # Refunds --------------------------------------------------------------------------

    def test_refund_in_parts_reverses_exactly_what_was_earned(self):
        s = self.server
        member = "refund-parts"
        self.new_member(member)
        self.assertEqual(self.buy("rp-p", member, 10000)["points_earned"], 100)

        def part(event_id, amount, hours):
            return self.refund({"event_id": event_id, "original_event_id": "rp-p",
                                "occurred_at": at(hours=hours), "amount_minor": amount})

        expected = [("rp-r1", 3333, 33, 6667), ("rp-r2", 3333, 33, 3334),
                    ("rp-r3", 3334, 34, 0)]
        balance = 100
        for i, (event_id, amount, reversed_points, remaining) in enumerate(expected):
            r = part(event_id, amount, 20 - i)
            self.assertEqual(r.status, 200, r)
            balance -= reversed_points
            self.assertEqual(r.json["event_id"], event_id)
            self.assertEqual(r.json["original_event_id"], "rp-p")
            self.assertEqual(r.json["member_id"], member)
            self.assertEqual(r.json["points_reversed"], reversed_points, r)
            self.assertEqual(r.json["points_restored"], 0)
            self.assertEqual(r.json["referral_reversed"], 0)
            self.assertEqual(r.json["refunded_minor"], amount)
            self.assertEqual(r.json["remaining_minor"], remaining)
            self.assertEqual(r.json["balance"]["available"], balance)
            self.assertFalse(r.json["replayed"])
        self.assertEqual(balance, 0, "a full refund in parts reverses all 100 points")

        self.assert_problem(part("rp-r4", 1, 10), 422, "refund_exceeds_purchase")
        replay = part("rp-r2", 3333, 19)
        self.assertEqual(replay.status, 200, replay)
        self.assertTrue(replay.json["replayed"])
        self.assertEqual(replay.json["member_id"], member)
        self.assertEqual(replay.json["points_reversed"], 33)
        self.assert_problem(part("rp-r2", 3000, 19), 409, "idempotency_conflict")
        self.assertEqual(self.balance(member)["available"], 0)
        reverses = [e["points"] for e in self.ledger(member) if e["type"] == "reverse"]
        self.assertEqual(sorted(reverses), [-34, -33, -33])

        # By lines: the refunded SKU's share of the points.
        self.assertEqual(s.purchase(purchase_body(
            "rp-lines", member, [line("mug", "goods", 6000), line("tea", "food", 4000)],
            occurred_at=at(days=1))).json["points_earned"], 100)
        r = self.refund({"event_id": "rp-lines-r", "original_event_id": "rp-lines",
                         "occurred_at": at(hours=1),
                         "lines": [{"sku": "tea", "amount_minor": 4000}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_reversed"], 40)
        self.assertEqual(r.json["remaining_minor"], 6000)

        bad = {"event_id": "rp-bad", "original_event_id": "rp-p", "occurred_at": at(hours=1)}
        cases = [
            ("neither amount nor lines", bad, 400, "invalid_request", "amount_minor"),
            ("both", dict(bad, amount_minor=1, lines=[{"sku": "tea", "amount_minor": 1}]), 400,
             "invalid_request", "amount_minor"),
            ("zero amount", dict(bad, amount_minor=0), 422, "invalid_request", "amount_minor"),
            ("line without amount", dict(bad, lines=[{"sku": "tea"}]), 400, "invalid_request",
             "lines[0].amount_minor"),
            ("unknown field", dict(bad, amount_minor=1, store_id="s-1"), 400, "invalid_request",
             "store_id"),
            ("unknown purchase", dict(bad, original_event_id="nope", amount_minor=1), 404,
             "not_found", "original_event_id"),
        ]
        for name, body, status, code, field in cases:
            with self.subTest(name):
                self.assert_problem(self.refund(body), status, code, field)
        self.assert_problem(self.refund(dict(bad, amount_minor=1), key=APP_KEY), 403,
                            "forbidden")

    def test_store_scoped_keys_refund_only_their_own_stores_purchases(self):
        s = self.server
        member = "scoped"
        self.new_member(member)
        own = purchase_body("scoped-own", member, [line("beans", "food", 1000)],
                            occurred_at=at(days=1), store_id="s-1")
        other = purchase_body("scoped-other", member, [line("beans", "food", 1000)],
                              occurred_at=at(days=1), store_id="s-2")
        self.assertEqual(s.purchase(own, key=SCOPED_POS_KEY).status, 200)
        self.assertEqual(s.purchase(other, key=POS_KEY).status, 200)

        def refund_of(event_id, original):
            return {"event_id": event_id, "original_event_id": original,
                    "occurred_at": at(hours=1), "amount_minor": 1000}

        self.assert_problem(self.refund(refund_of("scoped-r2", "scoped-other"),
                                        key=SCOPED_POS_KEY), 403, "forbidden",
                            "original_event_id")
        self.assert_problem(self.refund(refund_of("scoped-r3", "nope"), key=SCOPED_POS_KEY),
                            404, "not_found", "original_event_id")
        items = [dict(refund_of("scoped-b1", "scoped-other"), type="refund"),
                 dict(purchase_body("scoped-b2", member, [line("beans", "food", 1000)],
                                    occurred_at=at(days=1), store_id="s-2"), type="purchase")]
        r = self.batch(json.dumps(items).encode(), key=SCOPED_POS_KEY)
        self.assertEqual([x["status"] for x in r.json["results"]], [403, 403], r)
        self.assertEqual(self.balance(member)["available"], 20)
        # Needs the store in the purchase record (PurchaseRecord.store_id).
        r = self.refund(refund_of("scoped-r1", "scoped-own"), key=SCOPED_POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_reversed"], 10)

    def test_refund_after_spending_leaves_debt_that_blocks_redemption(self):
        member = "debt"
        self.new_member(member)
        self.assertEqual(self.buy("debt-p", member, 20000)["points_earned"], 200)
        r = self.redeem(member, "debt-spend", 200)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["balance"]["available"], 0)

        r = self.refund({"event_id": "debt-r", "original_event_id": "debt-p",
                         "occurred_at": at(hours=1), "amount_minor": 20000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_reversed"], 200)
        self.assertEqual(r.json["balance"]["available"], -200)
        self.assertEqual(self.balance(member)["available"], -200)

        self.assert_problem(self.redeem(member, "debt-spend-2", 100), 422, "insufficient_points")
        self.assert_problem(self.hold("debt-hold", member, 100), 422, "insufficient_points")
        # Points credited later pay the debt first.
        r = self.server.request("POST", f"/v1/members/{member}/adjustments",
                                {"adjustment_id": "debt-goodwill", "points": 300,
                                 "reason": "goodwill"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["balance"]["available"], 100)
        self.assertEqual(self.redeem(member, "debt-spend-3", 100).status, 201)
        self.assertEqual(self.balance(member)["available"], 0)

    # Redemptions ----------------------------------------------------------------------

    def test_redemption_rules_and_replay(self):
        s = self.server
        member = "redeemer"
        self.new_member(member)
        self.buy("redeemer-p", member, 100000)
        r = self.redeem(member, "rd-1", 300, reward_id="free-latte", note="birthday",
                        key=POS_KEY)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {"redemption_id": "rd-1", "member_id": member, "points": 300,
                                  "reward_id": "free-latte",
                                  "balance": {"available": 700, "pending": 0, "held": 0},
                                  "replayed": False})
        again = self.redeem(member, "rd-1", 300, reward_id="free-latte", note="birthday",
                            key=ADMIN_KEY)
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assertEqual(again.json["balance"]["available"], 700)
        self.assert_problem(self.redeem(member, "rd-1", 301), 409, "idempotency_conflict")
        self.assert_problem(self.redeem(member, "rd-small", 99), 422, "invalid_request",
                            "points")
        self.assert_problem(self.redeem(member, "rd-zero", 0), 422, "invalid_request", "points")
        self.assert_problem(self.redeem(member, "rd-too-much", 701), 422, "insufficient_points")
        self.assert_problem(self.redeem("nobody", "rd-x", 100), 404, "not_found")
        self.assert_problem(s.request("POST", f"/v1/members/{member}/redemptions",
                                      {"redemption_id": "rd-y"}), 400, "invalid_request",
                            "points")
        self.assert_problem(s.request("POST", f"/v1/members/{member}/redemptions",
                                      {"redemption_id": "rd-y", "points": 100, "extra": 1}),
                            400, "invalid_request", "extra")
        self.assert_problem(s.request("GET", f"/v1/members/{member}/redemptions"), 405,
                            "invalid_request")
        self.assertEqual(self.balance(member)["available"], 700)

    # Holds ----------------------------------------------------------------------------

    def test_hold_captured_by_a_purchase(self):
        s = self.server
        member = "holder"
        self.new_member(member)
        self.buy("holder-p", member, 100000)

        r = self.hold("h-1", member, 300)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["hold_id"], "h-1")
        self.assertEqual(r.json["member_id"], member)
        self.assertEqual(r.json["points"], 300)
        self.assertEqual(r.json["state"], "active")
        self.assertIsNone(r.json["captured_by"])
        self.assertEqual(r.json["balance"], {"available": 700, "pending": 0, "held": 300})
        self.assertFalse(r.json["replayed"])
        again = self.hold("h-1", member, 300)
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assert_problem(self.hold("h-1", member, 400), 409, "idempotency_conflict")
        view = s.request("GET", "/v1/holds/h-1", key=POS_KEY)
        self.assertEqual(view.status, 200, view)
        self.assertEqual(view.json["state"], "active")
        self.assertEqual(view.json["balance"]["held"], 300)

        # The purchase pays 300 points (= 300 minor) of 10000 and earns on the other 9700.
        paid = s.purchase(purchase_body("holder-pay", member, [line("beans", "food", 10000)],
                                        occurred_at=at(minutes=1), hold_id="h-1"))
        self.assertEqual(paid.status, 200, paid)
        self.assertEqual(paid.json["points_redeemed"], 300)
        self.assertEqual(paid.json["points_earned"], 97)
        self.assertEqual(paid.json["balance"], {"available": 797, "pending": 0, "held": 0})
        view = s.request("GET", "/v1/holds/h-1", key=POS_KEY).json
        self.assertEqual(view["state"], "captured")
        self.assertEqual(view["captured_by"], "holder-pay")
        self.assertIsNotNone(view["settled_at"])

    def test_hold_void_capture_and_expiry(self):
        s = self.server
        member = "holder-2"
        self.new_member(member)
        self.buy("holder-2-p", member, 100000)

        self.assertEqual(self.hold("h-2", member, 200).status, 201)
        r = self.hold_action("h-2", "void")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "voided")
        self.assertEqual(r.json["member_id"], member)
        self.assertEqual(r.json["balance"], {"available": 1000, "pending": 0, "held": 0})
        again = self.hold_action("h-2", "void")
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assert_problem(self.hold_action("h-2", "capture"), 409, "hold_not_active")
        self.assertEqual(s.request("GET", "/v1/holds/h-2").json["state"], "voided")

        # An explicit capture; capturing twice answers the same again.
        self.assertEqual(self.hold("h-3", member, 100).status, 201)
        r = self.hold_action("h-3", "capture")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "captured")
        self.assertEqual(r.json["balance"], {"available": 900, "pending": 0, "held": 0})
        self.assertFalse(r.json["replayed"])
        again = self.hold_action("h-3", "capture")
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assert_problem(self.hold_action("h-3", "void"), 409, "hold_not_active")
        self.assertEqual(self.balance(member), {"available": 900, "pending": 0, "held": 0})

        # A hold that timed out shows as expired and can no longer be captured.
        r = self.hold("h-4", member, 100, ttl_seconds=1)
        self.assertEqual(r.status, 201, r)
        time.sleep(2.2)
        self.assertEqual(s.request("GET", "/v1/holds/h-4").json["state"], "expired")
        self.assert_problem(self.hold_action("h-4", "capture"), 409, "hold_not_active")
        # The refused capture changes nothing: the release is written by the next applied event.
        balance = self.balance(member)
        self.assertEqual(balance["available"] + balance["held"], 900)

        self.assert_problem(self.hold("h-5", member, 901), 422, "insufficient_points")
        self.assert_problem(self.hold("h-6", "nobody", 100), 404, "not_found")
        self.assert_problem(self.hold("h-7", member, 0), 422, "invalid_request", "points")
        self.assert_problem(self.hold("h-8", member, 100, ttl_seconds=0), 422,
                            "invalid_request", "ttl_seconds")
        self.assert_problem(self.hold("h-9", member, 100, key=APP_KEY), 403, "forbidden")
        self.assert_problem(s.request("GET", "/v1/holds/nope"), 404, "not_found", "hold_id")
        self.assert_problem(self.hold_action("nope", "capture"), 404, "not_found", "hold_id")
        self.assert_problem(s.request("POST", "/v1/holds/h-3:capture", {"points": 1}), 400,
                            "invalid_request", "points")
        self.assert_problem(s.request("POST", "/v1/holds/h-3"), 405, "invalid_request")
        balance = self.balance(member)
        self.assertEqual(balance["available"] + balance["held"], 900)

    # Batches --------------------------------------------------------------------------

    def test_batch_array_and_ndjson_answer_per_event_in_order(self):
        member = "batcher"
        self.new_member(member)

        def buy(event_id, amount, who=member, **extra):
            return dict(purchase_body(event_id, who, [line("beans", "food", amount)],
                                      occurred_at=at(days=1)), type="purchase", **extra)

        def refund(event_id, original, amount):
            return {"type": "refund", "event_id": event_id, "original_event_id": original,
                    "occurred_at": at(hours=1), "amount_minor": amount}

        no_lines = buy("bat-p2", 1000)
        del no_lines["lines"]
        items = [
            buy("bat-p1", 5000),
            no_lines,
            refund("bat-r1", "bat-p1", 1000),  # its purchase is earlier in the same batch
            buy("bat-p3", 1000, who="nobody"),
            17,
            {"type": "return", "event_id": "bat-x"},
            refund("bat-r2", "bat-p1", 999999),
            dict(buy("bat-p4", 1000), occurred_at="2099-01-01T00:00:00Z"),
        ]
        r = self.batch(json.dumps(items).encode())
        self.assertEqual(r.status, 200, r)
        results = r.json["results"]
        self.assertEqual([x["index"] for x in results], list(range(len(items))))
        self.assertEqual([x["status"] for x in results], [200, 400, 200, 404, 400, 400, 422, 422],
                         results)
        self.assertEqual([x["event_id"] for x in results],
                         ["bat-p1", "bat-p2", "bat-r1", "bat-p3", None, "bat-x", "bat-r2",
                          "bat-p4"])
        self.assertEqual(results[0]["points_earned"], 50)
        self.assertFalse(results[0]["replayed"])
        self.assertEqual(results[1]["code"], "invalid_request")
        self.assertIn("lines", [e["field"] for e in results[1]["errors"]])
        self.assertEqual(results[2]["points_reversed"], 10)
        self.assertEqual(results[2]["member_id"], member)
        self.assertEqual(results[3]["code"], "not_found")
        self.assertIn("type", [e["field"] for e in results[5]["errors"]])
        self.assertEqual(results[6]["code"], "refund_exceeds_purchase")
        self.assertIn("occurred_at", [e["field"] for e in results[7]["errors"]])
        self.assertEqual(self.balance(member)["available"], 40)

        # The same batch again: the applied events are replays, the refusals refused again.
        again = self.batch(json.dumps(items).encode()).json["results"]
        self.assertEqual([x["status"] for x in again], [x["status"] for x in results])
        self.assertTrue(again[0]["replayed"] and again[2]["replayed"])
        self.assertEqual(self.balance(member)["available"], 40)

        # NDJSON: blank lines are not events; a line that is not JSON is refused alone.
        ndjson = "\n".join([json.dumps(buy("bat-p5", 2000)), "", "{not json",
                            json.dumps(refund("bat-r3", "bat-p5", 2000)),
                            json.dumps(buy("bat-p1", 5000)), ""]).encode()
        r = self.batch(ndjson, content_type="application/x-ndjson")
        self.assertEqual(r.status, 200, r)
        results = r.json["results"]
        self.assertEqual([(x["index"], x["status"]) for x in results],
                         [(0, 200), (1, 400), (2, 200), (3, 200)], results)
        self.assertEqual(results[0]["points_earned"], 20)
        self.assertEqual(results[2]["points_reversed"], 20)
        self.assertTrue(results[3]["replayed"])
        self.assertEqual(self.balance(member)["available"], 40)

    def test_batch_envelope_limits(self):
        member = "batch-bulk"
        self.new_member(member)
        events = [dict(purchase_body(f"bulk-{i}", member, [line("beans", "food", 100)],
                                     occurred_at=at(days=1)), type="purchase")
                  for i in range(1000)]
        body = json.dumps(events).encode()
        self.assertGreater(len(body), 64 * 1024, "larger than a single request may be")
        r = self.batch(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x["status"] for x in r.json["results"]], [200] * 1000)
        self.assertEqual(self.balance(member)["available"], 1000)

        too_many = events + [dict(events[0], event_id="bulk-1000")]
        self.assert_problem(self.batch(json.dumps(too_many).encode()), 413, "payload_too_large",
                            "events")
        # Over the batch body limit (4 MiB by default): refused as soon as the header is read.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as sock:
            sock.sendall(b"POST /v1/events:batch HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + POS_KEY.encode() + b"\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: 4194305\r\n\r\n")
            head = sock.recv(65536).decode(errors="replace")
        self.assertTrue(head.startswith("HTTP/1.1 413"), head)
        self.assertIn("4194304", head)
        self.assert_problem(self.batch(b"[1, 2"), 400, "invalid_request")
        self.assert_problem(self.batch(b'{"events": []}'), 400, "invalid_request")
        self.assert_problem(self.batch(b"[]"), 400, "invalid_request", "events")
        self.assert_problem(self.batch(b"\n\n", content_type="application/x-ndjson"), 400,
                            "invalid_request", "events")
        self.assert_problem(self.batch(b"[]", content_type="text/plain"), 415, "invalid_request")
        self.assert_problem(self.batch(b"[]", key=APP_KEY), 403, "forbidden")
        self.assertEqual(self.balance(member)["available"], 1000)

    # Quotes ---------------------------------------------------------------------------

    def test_quote_equals_the_purchase_and_changes_nothing(self):
        s = self.server
        member = "quoter"
        self.new_member(member)
        self.buy("quoter-p0", member, 30000)
        before = s.member(member).json
        ledger_before = self.ledger(member)

        basket = [line("beans", "food", 10000), line("mug", "goods", 2550)]
        quote_body = {k: v for k, v in purchase_body("quoter-p1", member, basket,
                                                     occurred_at=at(hours=3)).items()
                      if k != "event_id"}
        q = s.request("POST", "/v1/quotes", quote_body, key=APP_KEY)
        self.assertEqual(q.status, 200, q)
        self.assertEqual(q.json["points_earned"], 125)
        # Points could pay half of 12550 (6275 minor = 6275 points), but only 300 are there.
        self.assertEqual(q.json["redeemable_points_max"], 300)
        self.assertEqual(q.json["redeemable_value_minor"], 300)
        self.assertEqual(s.member(member).json, before, "a quote changes nothing")
        self.assertEqual(self.ledger(member), ledger_before)
        self.assertEqual(s.request("POST", "/v1/quotes", quote_body, key=POS_KEY).json, q.json)

        p = s.purchase(purchase_body("quoter-p1", member, basket, occurred_at=at(hours=3)))
        self.assertEqual(p.status, 200, p)
        for key in ("points_earned", "breakdown", "tier", "tier_changed", "points_redeemed"):
            self.assertEqual(q.json[key], p.json[key], key)
        self.assertEqual(q.json["balance_after"], p.json["balance"])

        # With points as payment the quote shows what the purchase will do.
        paying = dict(quote_body, redeem_points=200, event_id="quoter-p2")
        q2 = s.request("POST", "/v1/quotes", paying, key=POS_KEY)
        self.assertEqual(q2.status, 200, q2)
        self.assertEqual(q2.json["event_id"], "quoter-p2")
        p2 = s.purchase(dict(paying))
        self.assertEqual(p2.status, 200, p2)
        self.assertEqual(q2.json["points_redeemed"], 200)
        self.assertEqual(q2.json["points_earned"], p2.json["points_earned"])
        self.assertEqual(q2.json["balance_after"], p2.json["balance"])

        self.assert_problem(s.request("POST", "/v1/quotes", dict(quote_body, member_id="nobody")),
                            404, "not_found", "member_id")
        self.assert_problem(s.request("POST", "/v1/quotes",
                                      dict(quote_body, occurred_at="2099-01-01T00:00:00Z")),
                            422, "invalid_request", "occurred_at")
        self.assert_problem(s.request("POST", "/v1/quotes", dict(quote_body, currency="USD")),
                            422, "currency_mismatch")
        self.assert_problem(s.request("POST", "/v1/quotes", dict(quote_body, lines=[])), 400,
                            "invalid_request", "lines")

        # Under a draft (admin): what the basket would earn if the draft were activated; the
        # active rules and the member stay as they were.
        draft = PROGRAM.replace("points_per_unit = 1", "points_per_unit = 3", 1)
        self.assertNotEqual(draft, PROGRAM)
        d = s.request("POST", "/v1/quotes", dict(quote_body, program_toml=draft))
        self.assertEqual(d.status, 200, d)
        self.assertEqual(d.json["points_earned"], 3 * 12550 // 100)  # rounded once per event
        self.assertEqual(s.request("POST", "/v1/quotes", quote_body).json["points_earned"], 125)
        self.assert_problem(s.request("POST", "/v1/quotes", dict(quote_body, program_toml=draft),
                                      key=POS_KEY), 403, "forbidden", "program_toml")
        broken = s.request("POST", "/v1/quotes", dict(
            quote_body, program_toml=PROGRAM.replace("points_per_unit = 1", 'points_per_unit = "x"')))
        self.assert_problem(broken, 422, "invalid_request", "program_toml")
        self.assertIn("earning.points_per_unit", broken.json["detail"])

    # Adjustments ----------------------------------------------------------------------

    def test_adjustments_are_admin_only(self):
        s = self.server
        member = "adjusted"
        self.new_member(member)
        path = f"/v1/members/{member}/adjustments"
        body = {"adjustment_id": "adj-1", "points": 250, "reason": "service recovery"}
        self.assert_problem(s.request("POST", path, body, key=POS_KEY), 403, "forbidden")
        self.assert_problem(s.request("POST", path, body, key=APP_KEY), 403, "forbidden")
        self.assert_problem(s.request("POST", path, body, key=None), 401, "unauthorized")
        r = s.request("POST", path, body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json, {"adjustment_id": "adj-1", "member_id": member, "points": 250,
                                  "reason": "service recovery",
                                  "balance": {"available": 250, "pending": 0, "held": 0},
                                  "replayed": False})
        again = s.request("POST", path, body)
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assert_problem(s.request("POST", path, dict(body, points=251)), 409,
                            "idempotency_conflict")
        r = s.request("POST", path, {"adjustment_id": "adj-2", "points": -50,
                                     "reason": "correction"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["balance"]["available"], 200)
        self.assert_problem(s.request("POST", path, dict(body, adjustment_id="adj-3", points=0)),
                            422, "invalid_request", "points")
        self.assert_problem(s.request("POST", path, {"adjustment_id": "adj-4", "points": 5}),
                            400, "invalid_request", "reason")
        self.assert_problem(s.request("POST", "/v1/members/nobody/adjustments",
                                      dict(body, adjustment_id="adj-5")), 404, "not_found")
        entries = [(e["type"], e["points"], e["reference"]) for e in self.ledger(member)]
        self.assertEqual(entries, [("adjust", -50, "adj-2"), ("adjust", 250, "adj-1")])

    # The member view ------------------------------------------------------------------

    def test_member_view_lists_expiring_points_and_qualifying_spend(self):
        member = "expiring"
        self.new_member(member, joined_at=at(days=400))
        # Earned 340 days ago, so it expires in 25 days: inside the 30-day window.
        old = NOW - timedelta(days=340)
        self.buy("exp-old", member, 5000, occurred_at=at(days=340))
        self.buy("exp-new", member, 3000)
        view = self.server.member(member).json
        self.assertEqual(view["balance"]["available"], 80)
        expires = (old + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(view["expiring"], [{"points": 50, "expires_at": expires}])
        # The rolling window is this calendar month and the 11 before it.
        months_back = (NOW.year * 12 + NOW.month) - (old.year * 12 + old.month)
        spend = 3000 + (5000 if months_back < 12 else 0)
        q = view["qualifying"]
        self.assertEqual((q["metric"], q["value"], q["next_tier"]), ("spend", spend, "gold"))
        self.assertEqual(q["needed"], 10000000 - spend)

    def test_member_view_of_a_member_with_many_lots(self):
        # Past eight lots a member's lots are kept apart and its view reads the expiry schedule
        # stored with it, or every lot when the schedule ends before the 30-day window does.
        def expiring(days_back):
            return {"points": 10, "expires_at": (NOW - timedelta(days=days_back) +
                                                 timedelta(days=365)).strftime(
                                                     "%Y-%m-%dT%H:%M:%SZ")}

        # Four dates inside the window, eight after it: the schedule covers the window.
        member = "many-lots"
        self.new_member(member, joined_at=at(days=400))
        soon, later = [350, 349, 348, 347], [300, 299, 298, 297, 296, 295, 294, 293]
        for days_back in soon + later:
            self.buy(f"many-{days_back}", member, 1000, occurred_at=at(days=days_back))
        view = self.server.member(member).json
        self.assertEqual(view["balance"]["available"], 120)
        self.assertEqual(view["expiring"], [expiring(d) for d in soon])
        # Ten dates inside the window: more than the schedule holds, so every lot is read.
        member = "many-soon"
        self.new_member(member, joined_at=at(days=400))
        soon = list(range(350, 340, -1))
        for days_back in soon:
            self.buy(f"soon-{days_back}", member, 1000, occurred_at=at(days=days_back))
        self.assertEqual(self.server.member(member).json["expiring"],
                         [expiring(d) for d in soon])

    # Last (tests run in name order): after everything above ------------------------------

    def test_z_replays_survive_a_restart_and_the_books_balance(self):
        s = self.server
        member = "restarted"
        self.new_member(member)
        self.buy("rs-p", member, 100000)
        refund = {"event_id": "rs-r", "original_event_id": "rs-p", "occurred_at": at(hours=1),
                  "amount_minor": 10000}
        answers = {
            "refund": self.refund(refund),
            "redemption": self.redeem(member, "rs-rd", 200),
            "hold": self.hold("rs-h", member, 100),
        }
        self.assertEqual([r.status for r in answers.values()], [200, 201, 201], answers)

        self.assertEqual(s.stop(), 0, s.read_log()[-2000:])
        # With the server stopped, verify checks every member of every test above.
        done = subprocess.run([LOYALTYCTL, "verify", "--data", s.data_dir, "--json"],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["ok"], done.stdout)
        s.start()

        again = {
            "refund": self.refund(refund),
            "redemption": self.redeem(member, "rs-rd", 200),
            "hold": self.hold("rs-h", member, 100),
        }
        for name, r in again.items():
            with self.subTest(name):
                self.assertEqual(r.status, 200, r)
                self.assertTrue(r.json["replayed"])
                first = dict(answers[name].json, replayed=True)
                self.assertEqual(r.json, first)
        self.assertEqual(s.request("GET", "/v1/holds/rs-h").json["state"], "active")
        self.assertEqual(self.balance(member), {"available": 900 - 200 - 100, "pending": 0,
                                                "held": 100})


if __name__ == "__main__":
    unittest.main()
