"""The points mall end to end over HTTP and the WebSocket (api.md "Rewards and coupons"): the
catalog and a member's catalog with every reason, a member token redeeming for itself, codes
read case-insensitively and a mistyped one caught, a till checking and using a code, purchases
that use coupons and their refunds, cancellations, the member's coupons page by page, stats and
metrics, and a race: many members redeeming the last units of a reward and several tills using
one code at once, over HTTP and the WebSocket, checked against what was acknowledged."""
import asyncio
import json
import subprocess
import threading
import unittest
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import websockets

from harness import APP_KEY, LOYALTYCTL, POS_KEY, Server, line
from test_security import member_token, server_toml

PROGRAM = """
[program]
id = "e2e-mall"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[tiers]
metric = "spend"
[[tiers.levels]]
name = "green"
threshold = 0
[[tiers.levels]]
name = "gold"
threshold = 100000

[[rewards]]
id = "drink"
name = "Any drink"
kind = "coupon"
cost_points = 200
benefit = { free_item_category = "beverage" }
per_member = { max = 2, period = "month" }
on_refund = "restore"

[[rewards]]
id = "tumbler"
name = "Tumbler"
kind = "product"
cost_points = 100
stock = 5
on_refund = "refund_points"

[[rewards]]
id = "lounge"
name = "Lounge pass"
kind = "coupon"
cost_points = 50
tiers = ["gold"]

[[rewards]]
id = "spring"
name = "Spring set"
kind = "coupon"
cost_points = 10
available_from = "2099-03-01T00:00:00Z"
"""


def now_rfc3339(delta_s=0):
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sale(event_id, member_id, amount, store_id="s-1", **extra):
    return {"event_id": event_id, "member_id": member_id, "store_id": store_id,
            "occurred_at": now_rfc3339(-30), "currency": "CNY",
            "lines": [line("latte", "beverage", amount)], **extra}


def grouped(code):
    """As a till prints it and a member types it: lower case, in groups of four."""
    return "-".join(code[i:i + 4] for i in range(0, 12, 4)).lower()


class RewardsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(), program_toml=PROGRAM).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def member_with_points(self, member_id, amount_minor):
        s = self.server
        self.assertEqual(s.signup(member_id).status, 201)
        if amount_minor:
            r = s.purchase(sale(f"earn-{member_id}", member_id, amount_minor))
            self.assertEqual(r.status, 200, r)

    def redeem(self, member_id, reward_id, redemption_id, key=APP_KEY):
        return self.server.request(
            "POST", f"/v1/members/{member_id}/rewards/{reward_id}:redeem",
            {"redemption_id": redemption_id}, key=key)

    def test_catalog_and_a_members_catalog_say_what_stops_each_reward(self):
        s = self.server
        r = s.request("GET", "/v1/rewards", key=member_token("anyone"))
        self.assertEqual(r.status, 200, r)
        rewards = {item["reward_id"]: item for item in r.json["rewards"]}
        self.assertEqual(list(rewards), ["drink", "tumbler", "lounge", "spring"])
        self.assertEqual(rewards["drink"]["benefit"], {"free_item_category": "beverage"})
        self.assertEqual(rewards["drink"]["per_member"], {"max": 2, "period": "month"})
        self.assertIsNone(rewards["drink"]["stock"])
        self.assertEqual(rewards["tumbler"]["stock"], 5)

        self.member_with_points("cat-1", 15000)  # 150 points
        r = s.request("GET", "/v1/members/cat-1/rewards", key=member_token("cat-1"))
        self.assertEqual(r.status, 200, r)
        mine = {item["reward_id"]: item for item in r.json["rewards"]}
        self.assertEqual(mine["drink"]["reasons"], ["insufficient_points"])
        self.assertFalse(mine["drink"]["redeemable"])
        self.assertEqual(mine["drink"]["member_limit"], {"max": 2, "period": "month", "used": 0})
        self.assertTrue(mine["tumbler"]["redeemable"], mine["tumbler"])
        self.assertEqual(mine["lounge"]["reasons"], ["tier_not_eligible"])
        self.assertEqual(mine["spring"]["reasons"], ["reward_not_available"])
        # Each reason is also what a redemption answers, and it changes nothing.
        for reward_id, code in [("drink", "insufficient_points"), ("lounge", "tier_not_eligible"),
                                ("spring", "reward_not_available")]:
            r = self.redeem("cat-1", reward_id, f"cat-{reward_id}")
            self.assertEqual((r.status, r.json["code"]), (422, code), r)
            self.assertEqual(r.json["errors"][0]["field"], "reward_id")
        self.assertEqual(s.member("cat-1").json["balance"]["available"], 150)
        r = self.redeem("cat-1", "nothing", "cat-nothing")
        self.assertEqual((r.status, r.json["code"]), (404, "not_found"), r)

    def test_a_member_token_redeems_for_itself_and_a_till_uses_the_code_once(self):
        s = self.server
        self.member_with_points("tok-1", 100000)  # 1,000 points
        token = member_token("tok-1")
        r = self.redeem("tok-1", "drink", "tok-r1", key=token)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["points"], 200)
        self.assertEqual(r.json["balance"]["available"], 800)
        coupon = r.json["coupon"]
        code = coupon["code"]
        self.assertRegex(code, r"^[0-9A-HJKMNP-TV-Z]{12}$")
        self.assertEqual(coupon["state"], "active")
        self.assertEqual(coupon["benefit"], {"free_item_category": "beverage"})
        again = self.redeem("tok-1", "drink", "tok-r1", key=token)
        self.assertEqual((again.status, again.json["replayed"]), (200, True))
        self.assertEqual(again.json["coupon"]["code"], code, "a retry issues nothing new")
        other = self.redeem("tok-1", "drink", "tok-r2", key=member_token("someone-else"))
        self.assertEqual(other.status, 403, other)

        # The till reads it as printed; one mistyped character is caught by the check character.
        r = s.request("GET", f"/v1/coupons/{grouped(code)}", key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["code"], r.json["usable"], r.json["reasons"]), (code, True, []))
        self.assertEqual(r.json["reward"]["reward_id"], "drink")
        typo = code[:5] + ("0" if code[5] != "0" else "1") + code[6:]
        r = s.request("GET", f"/v1/coupons/{typo}", key=POS_KEY)
        self.assertEqual((r.status, r.json["code"]), (404, "not_found"), r)
        r = s.request("POST", f"/v1/coupons/{code}:use", {"use_id": "till-1", "store_id": "s-1"},
                      key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["state"], r.json["used_by"], r.json["store_id"]),
                         ("used", "till-1", "s-1"))
        r = s.request("POST", f"/v1/coupons/{code}:use", {"use_id": "till-1", "store_id": "s-1"},
                      key=POS_KEY)
        self.assertEqual((r.status, r.json["replayed"]), (200, True), "a retry of the same use")
        r = s.request("POST", f"/v1/coupons/{code}:use", {"use_id": "till-2", "store_id": "s-1"},
                      key=POS_KEY)
        self.assertEqual((r.status, r.json["code"]), (409, "coupon_not_active"), r)
        r = s.request("GET", f"/v1/coupons/{code}", key=POS_KEY)
        self.assertEqual((r.json["usable"], r.json["reasons"]), (False, ["coupon_not_active"]))
        # The ledger and the feed tell each step.
        entries = s.request("GET", "/v1/members/tok-1/ledger", key=token).json["entries"]
        self.assertEqual([e["type"] for e in entries[:2]], ["coupon_use", "reward_redeem"])
        notes = s.request("GET", "/v1/members/tok-1/notifications?after_seq=0", key=token)
        self.assertEqual([n["type"] for n in notes.json["notifications"]][-2:],
                         ["reward.redeemed", "coupon.used"])

    def test_purchases_use_coupons_and_a_full_refund_follows_on_refund(self):
        s = self.server
        self.member_with_points("buy-1", 100000)
        drink = self.redeem("buy-1", "drink", "buy-r1").json["coupon"]["code"]
        tumbler = self.redeem("buy-1", "tumbler", "buy-r2").json["coupon"]["code"]
        self.assertEqual(s.member("buy-1").json["balance"]["available"], 700)
        # All or none: a code of nobody's stops the whole sale.
        r = s.purchase(sale("buy-bad", "buy-1", 3000,
                            coupons=[grouped(drink), "000000000000"]))
        self.assertEqual((r.status, r.json["code"]), (409, "coupon_not_active"), r)
        self.assertEqual(r.json["errors"][0]["field"], "coupons[1]")
        r = s.purchase(sale("buy-bad2", "buy-1", 3000, coupons=["00000000000X"]))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["errors"][0]["field"], "coupons[0]")
        r = s.purchase(sale("buy-ok", "buy-1", 3000, coupons=[grouped(drink), tumbler]))
        self.assertEqual(r.status, 200, r)
        for code in (drink, tumbler):
            r = s.request("GET", f"/v1/coupons/{code}", key=POS_KEY)
            self.assertEqual((r.json["state"], r.json["used_by"]), ("used", "buy-ok"))
        # A partial refund leaves them used; the one that completes the sale settles them.
        r = s.request("POST", "/v1/events/refund", {"event_id": "buy-back1",
                      "original_event_id": "buy-ok", "occurred_at": now_rfc3339(-20),
                      "amount_minor": 1000}, key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        r = s.request("POST", "/v1/events/refund", {"event_id": "buy-back2",
                      "original_event_id": "buy-ok", "occurred_at": now_rfc3339(-10),
                      "amount_minor": 2000}, key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_restored"], 100, "the tumbler's points (refund_points)")
        r = s.request("GET", f"/v1/coupons/{drink}", key=POS_KEY)
        self.assertEqual((r.json["state"], r.json["usable"]), ("active", True), "restore")
        r = s.request("GET", f"/v1/coupons/{tumbler}", key=POS_KEY)
        self.assertEqual(r.json["state"], "used")
        self.assertEqual(s.member("buy-1").json["balance"]["available"], 800)

    def test_cancelling_gives_points_stock_and_limit_back_and_pages_list_coupons(self):
        s = self.server
        self.member_with_points("can-1", 100000)
        codes = [self.redeem("can-1", "drink", f"can-r{i}").json["coupon"]["code"]
                 for i in range(2)]
        r = self.redeem("can-1", "drink", "can-r3")
        self.assertEqual((r.status, r.json["code"]), (422, "member_limit_reached"), r)
        r = s.request("POST", f"/v1/coupons/{codes[0]}:cancel", key=member_token("other"))
        self.assertEqual(r.status, 403, r)
        r = s.request("POST", f"/v1/coupons/{codes[0]}:cancel", key=member_token("can-1"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["state"], r.json["points_returned"]), ("cancelled", 200))
        self.assertEqual(r.json["balance"]["available"], 800)
        r = s.request("POST", f"/v1/coupons/{codes[0]}:cancel", key=APP_KEY)
        self.assertEqual((r.status, r.json["replayed"]), (200, True), "a retry answers again")
        self.assertEqual(s.member("can-1").json["balance"]["available"], 800)
        r = self.redeem("can-1", "drink", "can-r4")
        self.assertEqual(r.status, 201, "the cancelled coupon's limit unit came back")
        codes.append(r.json["coupon"]["code"])
        # Newest first (by issue time, then code: two issued in one millisecond keep an order),
        # by state, a page at a time, each coupon once.
        r = s.request("GET", "/v1/members/can-1/coupons?limit=2", key=member_token("can-1"))
        self.assertEqual(r.status, 200, r)
        first = r.json["coupons"]
        self.assertEqual(len(first), 2)
        cursor = r.json["next_cursor"]
        self.assertIsNotNone(cursor)
        r = s.request("GET", f"/v1/members/can-1/coupons?limit=2&cursor={cursor}", key=APP_KEY)
        second = r.json["coupons"]
        self.assertIsNone(r.json["next_cursor"])
        listed = first + second
        self.assertEqual(sorted(c["code"] for c in listed), sorted(codes))
        order = [(datetime.fromisoformat(c["issued_at"].replace("Z", "+00:00")), c["code"])
                 for c in listed]
        self.assertEqual(order, sorted(order, reverse=True))
        r = s.request("GET", "/v1/members/can-1/coupons?state=cancelled", key=APP_KEY)
        self.assertEqual([c["code"] for c in r.json["coupons"]], [codes[0]])
        r = s.request("GET", "/v1/members/can-1/coupons?state=lost", key=APP_KEY)
        self.assertEqual((r.status, r.json["errors"][0]["field"]), (400, "state"))
        # A use names the store it happened at (store-scoped keys: tests/e2e/test_roles.py).
        r = s.request("POST", f"/v1/coupons/{codes[1]}:use", {"use_id": "u", "store_id": ""},
                      key=POS_KEY)
        self.assertEqual((r.status, r.json["errors"][0]["field"]), (400, "store_id"))


class CouponLiabilityTest(unittest.TestCase):
    """Finance's figures: GET /metrics and loyaltyctl stats count the active coupons and the
    points spent on them, and the metrics come back as they were after a restart."""

    def metric(self, server, name):
        body = server.request("GET", "/metrics", key=None).body
        for row in body.splitlines():
            if row.startswith(name + " "):
                return int(float(row.split()[1]))
        self.fail(f"{name} not in /metrics")

    def test_metrics_and_stats_count_active_coupons_and_their_points(self):
        s = Server(server_toml=server_toml(), program_toml=PROGRAM).start()
        try:
            self.assertEqual(s.signup("fin-1").status, 201)
            self.assertEqual(s.purchase(sale("fin-earn", "fin-1", 100000)).status, 200)
            codes = []
            for i, reward in enumerate(["drink", "tumbler", "tumbler"]):
                r = s.request("POST", f"/v1/members/fin-1/rewards/{reward}:redeem",
                              {"redemption_id": f"fin-r{i}"}, key=APP_KEY)
                self.assertEqual(r.status, 201, r)
                codes.append(r.json["coupon"]["code"])
            self.assertEqual(self.metric(s, "loyalty_coupons_active"), 3)
            self.assertEqual(self.metric(s, "loyalty_coupons_liability_points"), 400)
            r = s.request("POST", f"/v1/coupons/{codes[1]}:use",
                          {"use_id": "fin-u", "store_id": "s-1"}, key=POS_KEY)
            self.assertEqual(r.status, 200, r)
            r = s.request("POST", f"/v1/coupons/{codes[2]}:cancel", key=APP_KEY)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(self.metric(s, "loyalty_coupons_active"), 1)
            self.assertEqual(self.metric(s, "loyalty_coupons_liability_points"), 200)
            s.stop()
            stats = subprocess.run([LOYALTYCTL, "stats", "--data", s.data_dir, "--json"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(stats.returncode, 0, stats)
            self.assertEqual(json.loads(stats.stdout)["coupons"], {
                "active": 1, "liability_points": 200,
                "by_reward": {"drink": {"active": 1, "liability_points": 200}}})
            s.start()
            self.assertEqual(self.metric(s, "loyalty_coupons_active"), 1, "kept across a restart")
            self.assertEqual(self.metric(s, "loyalty_coupons_liability_points"), 200)
        finally:
            s.cleanup()


class RewardsRaceTest(unittest.TestCase):
    """Exactness under concurrency, against what was acknowledged: the last units of a reward
    go to exactly `stock` redemptions however many members ask at once, and a code is used by
    exactly one of the tills that present it at once (over HTTP and the WebSocket)."""

    MEMBERS = 24
    TILLS = 8

    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(), program_toml=PROGRAM).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_the_last_units_and_one_code_under_contention(self):
        s = self.server
        for i in range(self.MEMBERS):
            self.assertEqual(s.signup(f"race-{i}").status, 201)
            self.assertEqual(s.purchase(sale(f"race-earn-{i}", f"race-{i}", 100000)).status, 200)
        start = threading.Barrier(self.MEMBERS)

        def redeem(i):
            start.wait()
            return s.request("POST", f"/v1/members/race-{i}/rewards/tumbler:redeem",
                             {"redemption_id": f"race-r{i}"}, key=APP_KEY)

        with ThreadPoolExecutor(self.MEMBERS) as pool:
            answers = list(pool.map(redeem, range(self.MEMBERS)))
        won = [a for a in answers if a.status == 201]
        lost = [a for a in answers if a.status != 201]
        self.assertEqual(len(won), 5, "exactly the stock")
        self.assertTrue(all(a.json["code"] == "out_of_stock" for a in lost), lost[:3])
        # The books agree with the answers: each winner paid 100, each loser nothing.
        winners = {a.json["member_id"] for a in won}
        for i in range(self.MEMBERS):
            expected = 900 if f"race-{i}" in winners else 1000
            self.assertEqual(s.member(f"race-{i}").json["balance"]["available"], expected)
        catalog = {r["reward_id"]: r for r in s.request("GET", "/v1/rewards").json["rewards"]}
        self.assertEqual(catalog["tumbler"]["stock_left"], 0)
        print(f"\nrace: {self.MEMBERS} redemptions for 5 units: {len(won)} issued, "
              f"{len(lost)} out_of_stock, oversold 0")

        # One code, several tills at once: half over HTTP, half over the WebSocket.
        code = won[0].json["coupon"]["code"]
        owner = won[0].json["member_id"]
        till_start = threading.Barrier(self.TILLS)
        results = [None] * self.TILLS

        def till_http(i):
            till_start.wait()
            r = s.purchase(sale(f"race-sale-{i}", owner, 2000, coupons=[code]))
            results[i] = ("http", r.status, (r.json or {}).get("code"))

        async def till_ws(i):
            uri = f"ws://127.0.0.1:{s.port}/v1/stream"
            async with websockets.connect(
                    uri, extra_headers={"Authorization": f"Bearer {POS_KEY}"}) as ws:
                await asyncio.get_running_loop().run_in_executor(None, till_start.wait)
                await ws.send(json.dumps({"op": "event", "event": {
                    "type": "purchase", **sale(f"race-sale-{i}", owner, 2000, coupons=[code])}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                results[i] = ("ws", reply.get("status"), reply.get("code"))

        threads = [threading.Thread(target=till_http, args=(i,)) for i in range(0, self.TILLS, 2)]
        threads += [threading.Thread(target=lambda i=i: asyncio.run(till_ws(i)))
                    for i in range(1, self.TILLS, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        used = [r for r in results if r and r[1] == 200]
        refused = [r for r in results if r and r[1] == 409]
        self.assertEqual(len(used), 1, results)
        self.assertEqual(len(refused), self.TILLS - 1, results)
        self.assertTrue(all(r[2] == "coupon_not_active" for r in refused), results)
        r = s.request("GET", f"/v1/coupons/{code}", key=POS_KEY)
        self.assertEqual(r.json["state"], "used")
        print(f"race: {self.TILLS} tills used one code at once: 1 used, "
              f"{len(refused)} coupon_not_active")


if __name__ == "__main__":
    unittest.main()
