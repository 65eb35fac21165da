"""Foundation slice end to end: sign-up, purchases with their arithmetic, replays and
conflicts, restart, lookup, ledger order, and a table of bad requests that change nothing."""
import unittest

from harness import (ADMIN_KEY, APP_KEY, POS_KEY, Server, line, purchase_body)

PROGRAM = """
[program]
id = "e2e-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100
max_points_per_event = 1000
excluded_categories = ["gift-card"]

[earning.category_multipliers]
beverage = 2.0

[earning.sku_multipliers]
"latte-l" = 1.5

[[campaigns]]
id = "double-weekend"
starts_at = "2026-11-01T00:00:00Z"
ends_at = "2026-12-01T00:00:00Z"
days_of_week = [6, 7]
multiplier = 2.0

[[milestones]]
purchase_count = 3
bonus_points = 30

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
threshold = 50000
multiplier = 1.25

[expiry]
mode = "days"
days = 365
"""

SCOPED_POS_KEY = "loyalty-e2e-scoped-pos-key"


def server_toml_with_scoped_key():
    import hashlib
    import os
    from harness import SOURCE_DIR
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    digest = hashlib.sha256(SCOPED_POS_KEY.encode()).hexdigest()
    return text + f"""
[[api_keys]]
name = "scoped-pos"
role = "pos"
sha256 = "{digest}"
stores = ["s-1"]
"""


class Foundation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml_with_scoped_key(), program_toml=PROGRAM)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def assert_problem(self, r, status, code, field=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/problem+json"),
                        r.headers)
        self.assertIsNotNone(r.json, r)
        for key in ("type", "title", "status", "code", "detail"):
            self.assertIn(key, r.json, r)
        self.assertEqual(r.json["status"], status)
        self.assertEqual(r.json["code"], code, r)
        if field is not None:
            fields = [e["field"] for e in r.json.get("errors", [])]
            self.assertIn(field, fields, r)

    def test_1_signup_and_member_view(self):
        s = self.server
        r = s.signup("alice", phone="+8613800000001", card_no="CARD-0001",
                     profile={"name": "Alice"})
        self.assertEqual(r.status, 201, r)
        view = r.json
        self.assertEqual(view["member_id"], "alice")
        self.assertEqual(view["tier"], "green")
        self.assertEqual(view["balance"], {"available": 0, "pending": 0, "held": 0})
        self.assertEqual(view["purchase_count"], 0)
        self.assertEqual(len(view["referral_code"]), 8)
        self.assertEqual(view["program_version"], "e2e-club@1")
        self.assertEqual(view["qualifying"]["next_tier"], "gold")

        again = s.signup("alice", phone="+8613800000001", card_no="CARD-0001",
                         profile={"name": "Alice"})
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"])
        self.assertEqual(again.json["referral_code"], view["referral_code"])
        self.assert_problem(s.signup("alice"), 409, "member_exists")
        self.assert_problem(s.signup("bob", phone="+8613800000001"), 409, "member_exists",
                            "phone")

        referred = s.signup("carol", referral_code=view["referral_code"])
        self.assertEqual(referred.status, 201, referred)
        self.assertEqual(referred.json["referred_by"], "alice")
        self.assert_problem(s.signup("dave", referral_code="QQQQQQQQ"), 422,
                            "unknown_referral_code", "referral_code")

    def test_2_purchases_arithmetic_replay_conflict_restart(self):
        s = self.server
        self.assertEqual(s.signup("erin").status, 201)
        # Friday: latte-l 6400 at ×1.5 (SKU replaces category) + croissant 1550.
        p1 = purchase_body("e2e-p1", "erin", [line("latte-l", "beverage", 6400, 2),
                                              line("croissant", "food", 1550)])
        r = s.purchase(p1)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_earned"], 111)
        self.assertEqual(r.json["breakdown"], [{"rule": "base", "points": 79},
                                               {"rule": "sku:latte-l", "points": 32}])
        self.assertEqual(r.json["balance"], {"available": 111, "pending": 0, "held": 0})
        self.assertEqual(r.json["tier"], "green")
        self.assertFalse(r.json["tier_changed"])
        self.assertFalse(r.json["replayed"])
        first_answer = r.json

        # Saturday: espresso ×2 category, ×2 weekend campaign; gift card earns nothing.
        r = s.purchase(purchase_body("e2e-p2", "erin", [line("espresso", "beverage", 1000),
                                                        line("gc-50", "gift-card", 5000)],
                                     occurred_at="2026-11-21T09:00:00Z"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_earned"], 40)
        self.assertEqual(r.json["breakdown"], [{"rule": "base", "points": 10},
                                               {"rule": "category:beverage", "points": 10},
                                               {"rule": "campaign:double-weekend", "points": 20}])
        # Third purchase: the milestone bonus.
        r = s.purchase(purchase_body("e2e-p3", "erin", [line("bagel", "food", 1000)],
                                     occurred_at="2026-11-19T09:00:00+08:00"))
        self.assertEqual(r.json["points_earned"], 40, r)
        self.assertIn({"rule": "milestone:3", "points": 30}, r.json["breakdown"])
        # The per-event cap.
        r = s.purchase(purchase_body("e2e-p4", "erin", [line("beans", "food", 200000)]))
        self.assertEqual(r.json["points_earned"], 1000, r)
        self.assertIn({"rule": "cap", "points": -1000}, r.json["breakdown"])
        self.assertEqual(sum(b["points"] for b in r.json["breakdown"]), 1000)
        self.assertEqual(r.json["balance"]["available"], 1191)

        replay = s.purchase(p1)
        self.assertEqual(replay.status, 200, replay)
        self.assertTrue(replay.json["replayed"])
        for key in ("points_earned", "breakdown", "balance", "tier"):
            self.assertEqual(replay.json[key], first_answer[key])
        conflict = dict(p1, lines=[line("latte-l", "beverage", 100)])
        self.assert_problem(s.purchase(conflict), 409, "idempotency_conflict", "event_id")
        self.assertEqual(s.member("erin").json["balance"]["available"], 1191)

        s.restart()
        view = s.member("erin").json
        self.assertEqual(view["balance"]["available"], 1191)
        self.assertEqual(view["purchase_count"], 4)
        self.assertEqual(view["lifetime_points"], 1191)
        replay = s.purchase(p1)
        self.assertEqual(replay.status, 200, replay)
        self.assertTrue(replay.json["replayed"], "idempotency survives a restart")
        self.assertEqual(replay.json["points_earned"], 111)
        self.assert_problem(s.purchase(conflict), 409, "idempotency_conflict")
        self.assertEqual(s.member("erin").json["balance"]["available"], 1191)

    def test_3_lookup_and_ledger(self):
        s = self.server
        self.assertEqual(s.signup("frank", phone="+8613800000009", card_no="CARD-0009").status,
                         201)
        for i in range(5):
            r = s.purchase(purchase_body(f"e2e-frank-{i}", "frank",
                                         [line("bagel", "food", 100 * (i + 1))]))
            self.assertEqual(r.status, 200, r)
        by_phone = s.request("GET", "/v1/members:lookup?phone=%2B8613800000009", key=POS_KEY)
        self.assertEqual(by_phone.status, 200, by_phone)
        self.assertEqual(by_phone.json["member_id"], "frank")
        by_card = s.request("GET", "/v1/members:lookup?card_no=CARD-0009", key=POS_KEY)
        self.assertEqual(by_card.json["member_id"], "frank")
        self.assert_problem(s.request("GET", "/v1/members:lookup?phone=%2B1000", key=POS_KEY),
                            404, "not_found")

        page = s.request("GET", "/v1/members/frank/ledger?limit=2", key=APP_KEY)
        self.assertEqual(page.status, 200, page)
        refs = [e["reference"] for e in page.json["entries"]]
        self.assertEqual(refs, ["e2e-frank-4", "e2e-frank-3"], "newest first")
        self.assertEqual([e["points"] for e in page.json["entries"]], [5, 4])
        self.assertEqual(page.json["entries"][0]["balance_after"], 15 + 30)
        self.assertEqual(page.json["entries"][0]["type"], "earn")
        cursor = page.json["next_cursor"]
        self.assertIsNotNone(cursor)
        rest = s.request("GET", f"/v1/members/frank/ledger?limit=10&cursor={cursor}", key=APP_KEY)
        # The third purchase earned the milestone bonus: its bonus entry is newer than its earn.
        self.assertEqual([(e["reference"], e["type"]) for e in rest.json["entries"]],
                         [("e2e-frank-2", "bonus"), ("e2e-frank-2", "earn"),
                          ("e2e-frank-1", "earn"), ("e2e-frank-0", "earn")])
        self.assertIsNone(rest.json["next_cursor"])
        # One that names no event of this member, or is not a cursor (the seq alone, the form
        # before layout 6, included), is refused by name.
        bare = cursor.split("-")[0]
        for forged in [f"{bare}-999999", f"{bare}-0", "x-1", f"{bare}-", bare]:
            self.assert_problem(
                s.request("GET", f"/v1/members/frank/ledger?cursor={forged}", key=APP_KEY),
                400, "invalid_request", "cursor")
        self.assert_problem(s.request("GET", "/v1/members/frank/ledger?limit=501"), 400,
                            "invalid_request", "limit")

    def test_4_bad_requests_change_nothing(self):
        s = self.server
        self.assertEqual(s.signup("grace").status, 201)
        ok = s.purchase(purchase_body("e2e-grace-0", "grace", [line("bagel", "food", 1000)]))
        self.assertEqual(ok.status, 200)
        before = s.member("grace").json
        good = purchase_body("e2e-bad", "grace", [line("bagel", "food", 1000)])

        def with_(**changes):
            body = dict(good)
            body.update(changes)
            return body

        def without(field):
            return {k: v for k, v in good.items() if k != field}

        post = "/v1/events/purchase"
        cases = [
            ("malformed JSON", dict(raw=b'{"event_id": "x",'), 400, "invalid_request", None),
            ("array body", dict(raw=b"[1, 2]"), 400, "invalid_request", None),
            ("missing event_id", dict(body=without("event_id")), 400, "invalid_request",
             "event_id"),
            ("event_id a number", dict(body=with_(event_id=7)), 400, "invalid_request",
             "event_id"),
            ("lines not an array", dict(body=with_(lines="bagel")), 400, "invalid_request",
             "lines"),
            ("amount a string", dict(body=with_(lines=[dict(line("b", "food", 1), amount_minor="9")])),
             400, "invalid_request", "lines[0].amount_minor"),
            ("amount a fraction", dict(body=with_(lines=[dict(line("b", "food", 1), amount_minor=1.5)])),
             400, "invalid_request", "lines[0].amount_minor"),
            ("negative amount", dict(body=with_(lines=[line("b", "food", -1)])), 422,
             "invalid_request", "lines[0].amount_minor"),
            ("amount over 10^12", dict(body=with_(lines=[line("b", "food", 10**12 + 1)])), 422,
             "invalid_request", "lines[0].amount_minor"),
            ("zero quantity", dict(body=with_(lines=[line("b", "food", 100, quantity=0)])), 422,
             "invalid_request", "lines[0].quantity"),
            ("501 lines", dict(body=with_(lines=[line("b", "food", 1)] * 501)), 400,
             "invalid_request", "lines"),
            ("no lines", dict(body=with_(lines=[])), 400, "invalid_request", "lines"),
            ("unknown field", dict(body=with_(coupon="X")), 400, "invalid_request", "coupon"),
            ("bad time", dict(body=with_(occurred_at="yesterday")), 400, "invalid_request",
             "occurred_at"),
            ("future time", dict(body=with_(occurred_at="2099-01-01T00:00:00Z")), 422,
             "invalid_request", "occurred_at"),
            ("id too long", dict(body=with_(event_id="x" * 129)), 400, "invalid_request",
             "event_id"),
            ("id with a space", dict(body=with_(member_id="gr ace")), 400, "invalid_request",
             "member_id"),
            ("other currency", dict(body=with_(currency="USD")), 422, "currency_mismatch",
             "currency"),
            ("unknown member", dict(body=with_(member_id="nobody")), 404, "not_found",
             "member_id"),
            ("hold_id a number", dict(body=with_(hold_id=5)), 400, "invalid_request", "hold_id"),
            ("no credentials", dict(body=good, key=None), 401, "unauthorized", None),
            ("unknown key", dict(body=good, key="not-a-key"), 401, "unauthorized", None),
            ("app may not post purchases", dict(body=good, key=APP_KEY), 403, "forbidden", None),
            ("store outside the key's scope", dict(body=with_(store_id="s-2"), key=SCOPED_POS_KEY),
             403, "forbidden", "store_id"),
            ("oversize body", dict(raw=b'{"event_id": "' + b"x" * (70 * 1024) + b'"}'), 413,
             "payload_too_large", None),
        ]
        self.assertGreaterEqual(len(cases), 20)
        for name, kwargs, status, code, field in cases:
            with self.subTest(name):
                kwargs.setdefault("key", POS_KEY)
                r = s.request("POST", post, **kwargs)
                self.assert_problem(r, status, code, field)

        self.assert_problem(s.signup("", key=APP_KEY), 400, "invalid_request", "member_id")
        self.assert_problem(s.request("POST", "/v1/members", {"phone": "1"}, key=APP_KEY), 400,
                            "invalid_request", "member_id")
        self.assert_problem(s.signup("zed", key=POS_KEY), 403, "forbidden")
        self.assert_problem(s.request("GET", "/v1/members/nobody"), 404, "not_found")
        self.assert_problem(s.request("GET", "/v1/nowhere"), 404, "not_found")

        after = s.member("grace").json
        self.assertEqual(after["balance"], before["balance"])
        self.assertEqual(after["purchase_count"], before["purchase_count"])
        ledger = s.request("GET", "/v1/members/grace/ledger").json["entries"]
        self.assertEqual(len(ledger), 1, "no bad request wrote a ledger entry")
        # The scoped key may post for its own store.
        r = s.purchase(with_(event_id="e2e-grace-scoped"), key=SCOPED_POS_KEY)
        self.assertEqual(r.status, 200, r)

    def test_5_health_and_readiness(self):
        s = self.server
        self.assertEqual(s.request("GET", "/healthz", key=None).status, 200)
        self.assertEqual(s.request("GET", "/readyz", key=None).status, 200)


class Shutdown(unittest.TestCase):
    def test_sigterm_exits_zero_and_keeps_acknowledged_writes(self):
        s = Server()
        try:
            s.start()
            self.assertEqual(s.signup("henry").status, 201)
            r = s.purchase(purchase_body("shutdown-1", "henry", [line("bean", "food", 5000)]))
            self.assertEqual(r.status, 200, r)
            earned = r.json["points_earned"]
            self.assertEqual(s.stop(), 0, s.read_log()[-2000:])
            s.start()
            self.assertEqual(s.member("henry").json["balance"]["available"], earned)
            self.assertEqual(s.stop(), 0)
            # With the server stopped, the operator's check finds the books balanced.
            import json
            import subprocess
            from harness import LOYALTYCTL
            done = subprocess.run([LOYALTYCTL, "verify", "--data", s.data_dir, "--json"],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 0, done)
            report = json.loads(done.stdout)
            self.assertEqual(report["members_checked"], 1)
            self.assertTrue(report["ok"])
            stats = subprocess.run([LOYALTYCTL, "stats", "--data", s.data_dir, "--json"],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(json.loads(stats.stdout)["points_outstanding"]["available"], earned)
            usage = subprocess.run([LOYALTYCTL, "verify"], capture_output=True, text=True,
                                   timeout=60)
            self.assertEqual(usage.returncode, 2, "a missing --data is bad usage")
        finally:
            s.cleanup()

    def test_bad_config_exits_2_naming_the_key(self):
        import subprocess
        from harness import LOYALTYD
        s = Server(server_toml='listen = "127.0.0.1:0"\ndurability = "sometimes"\n')
        try:
            done = subprocess.run([LOYALTYD, "--config", s.config, "--data", s.data_dir],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(done.returncode, 2, done)
            message = (done.stderr + done.stdout).strip()
            self.assertIn("durability", message)
            self.assertIn("server.toml", message)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
