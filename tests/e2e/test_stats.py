"""GET /v1/stats, the console's overview figures, against a real loyaltyd: after purchases on
several days, a refund, a redemption, adjustments both ways, a reward's coupon and an erasure,
the figures agree with what the members hold (loyaltyctl stats, which reads every member), the
days are the program's (Asia/Shanghai) days, the books add up (every day's issued less redeemed
and expired is what members hold), and a restart changes nothing."""
import json
import unittest
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from harness import Server, ctl, line, purchase_body

ZONE = ZoneInfo("Asia/Shanghai")  # the shipped program's


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ProgramFiguresTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()
        self.addCleanup(self.server.cleanup)

    def seed(self):
        s = self.server
        now = datetime.now(timezone.utc)
        self.bought = {}  # member → when they last bought
        for i in range(5):
            self.assertEqual(s.signup(f"st-{i}", phone=f"1390000000{i}").status, 201)
        sales = [("st-0", 0, 80_000), ("st-1", 3, 40_000), ("st-2", 45, 60_000),
                 ("st-0", 10, 20_000), ("st-3", 2, 30_000)]
        self.earned_on = {}  # local date → points the purchases earned that day
        for n, (member, days_ago, amount) in enumerate(sales):
            when = now - timedelta(days=days_ago, minutes=5)
            r = s.purchase(purchase_body(f"st-sale-{n}", member, [line("beans", "food", amount)],
                                         occurred_at=rfc3339(when)))
            self.assertEqual(r.status, 200, r)
            day = when.astimezone(ZONE).date().isoformat()
            self.earned_on[day] = self.earned_on.get(day, 0) + r.json["points_earned"]
            self.bought[member] = max(self.bought.get(member, when), when)
        r = s.request("POST", "/v1/events/refund",
                      {"event_id": "st-refund", "original_event_id": "st-sale-1",
                       "occurred_at": rfc3339(datetime.now(timezone.utc)), "amount_minor": 10_000})
        self.assertEqual(r.status, 200, r)
        r = s.request("POST", "/v1/members/st-0/redemptions",
                      {"redemption_id": "st-redeem", "points": 150})
        self.assertEqual(r.status, 201, r)
        for adjustment_id, points in (("st-adj-up", 75), ("st-adj-down", -20)):
            r = s.request("POST", "/v1/members/st-3/adjustments",
                          {"adjustment_id": adjustment_id, "points": points, "reason": "test"})
            self.assertEqual(r.status, 201, r)
        r = s.request("POST", "/v1/members/st-0/rewards/free-drink:redeem",
                      {"redemption_id": "st-drink"})
        self.assertEqual(r.status, 201, r)
        r = s.request("POST", "/v1/members/st-4:erase", {"erasure_id": "st-x", "reason": "asked"})
        self.assertEqual(r.status, 200, r)

    def test_figures_agree_with_the_members_and_survive_a_restart(self):
        s = self.server
        self.seed()
        r = s.request("GET", "/v1/stats?days=60")
        self.assertEqual(r.status, 200, r)
        figures = r.json
        self.assertEqual(figures["time_zone"], "Asia/Shanghai")
        self.assertEqual(figures["currency"], "CNY")
        self.assertEqual(figures["members"], 5, "an erased member's books stay")
        # Bought within 30 days: st-0, st-1, st-3 (st-2 bought 45 days ago, st-4 never).
        self.assertEqual(figures["active_members"], 3)
        days = {row["date"]: row for row in figures["points_by_day"]}
        self.assertEqual(len(days), 60)
        today = datetime.now(timezone.utc).astimezone(ZONE).date().isoformat()
        self.assertEqual(figures["points_by_day"][-1]["date"], today)
        for day, earned in self.earned_on.items():  # on the program's calendar, not UTC's
            by_type = days[day]["by_type"]
            self.assertEqual(by_type.get("earn", 0) + by_type.get("bonus", 0), earned, day)
        self.assertEqual(days[today]["by_type"]["adjust"], 55)
        self.assertGreaterEqual(days[today]["redeemed"], 150 + 200, "the redemption and reward")
        self.assertLess(days[today]["by_type"]["reverse"], 0, "the refund took points back")
        # The books: whatever was issued less redeemed and expired is what members hold.
        net = sum(row["issued"] - row["redeemed"] - row["expired"]
                  for row in figures["points_by_day"])
        liability = figures["liability"]
        self.assertEqual(net, liability["outstanding"])
        self.assertEqual(liability["outstanding"], liability["points_in_lots"] - liability["debt"])
        self.assertEqual(figures["coupons"], {"active": 1, "points": 200})
        drink = next(r for r in figures["rewards"] if r["reward_id"] == "free-drink")
        self.assertEqual(drink, {"reward_id": "free-drink", "issued": 1, "active": 1, "used": 0,
                                 "expired": 0, "cancelled": 0})

        # Durable: a restart reads the same counters.
        s.restart()
        again = s.request("GET", "/v1/stats?days=60").json
        del again["as_of"], figures["as_of"]
        self.assertEqual(again, figures)

        # loyaltyctl stats reads every member; the counters say the same.
        s.stop()
        done = ctl("stats", "--data", s.data_dir, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        scanned = json.loads(done.stdout)
        self.assertEqual(scanned["members"], figures["members"])
        self.assertEqual({t["tier"]: t["members"] for t in figures["tiers"] if t["members"]},
                         scanned["members_per_tier"])
        self.assertEqual(sum(scanned["points_outstanding"].values()), liability["outstanding"])
        self.assertEqual({(m["month"] or "never"): m["points"] for m in liability["by_expiry_month"]},
                         {month: points for month, points in scanned["liability_by_expiry_month"].items()
                          if points})
        self.assertEqual(scanned["coupons"]["active"], figures["coupons"]["active"])
        self.assertEqual(scanned["coupons"]["liability_points"], figures["coupons"]["points"])

    def test_a_bad_query_is_refused_naming_it(self):
        s = self.server
        for query, field in (("days=0", "days"), ("days=367", "days"), ("days=x", "days"),
                             ("partition=0", "partition"), ("color=red", "color")):
            r = s.request("GET", f"/v1/stats?{query}")
            self.assertEqual(r.status, 400, (query, r))
            self.assertEqual([e["field"] for e in r.json["errors"]], [field], query)
        r = s.request("GET", "/v1/stats", key=None)
        self.assertEqual(r.status, 401)


if __name__ == "__main__":
    unittest.main()
