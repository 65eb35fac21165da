"""loyaltyctl import (NDJSON, members CSV, purchases CSV) and export events, on real data
folders with the server stopped: good rows apply and bad rows are reported with their line,
field, code and message; importing again changes nothing; an exported event log imported into
a fresh folder rebuilds the same state (digest); and a table of exit codes and --json shapes of
every loyaltyctl command."""
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

from harness import (ADMIN_KEY, APP_KEY, LOYALTYCTL, POS_KEY, Server, ctl, line,
                     operator_program, purchase_body)

STORE_TAMPER = os.environ.get("STORE_TAMPER", os.path.join(os.path.dirname(LOYALTYCTL),
                                                           "tests", "e2e", "store_tamper"))

PROGRAM = operator_program("import-club")


def now_rfc3339(delta_s=0):
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def rejected_lines(stdout):
    """The report lines of a text run (everything but the summary)."""
    return [l for l in stdout.splitlines() if l.startswith("line ")]


class ImportExport(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="loyalty-import-")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def fresh(self):
        """An empty data folder holding the program (loyaltyd seeds it on its first start)."""
        server = Server(program_toml=PROGRAM)
        self.servers.append(server)
        server.start()
        self.assertEqual(server.stop(), 0)
        return server.data_dir

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def members(self, data):
        done = ctl("export", "members", "--data", data)
        self.assertEqual(done.returncode, 0, done)
        return {m["member_id"]: m for m in map(json.loads, done.stdout.splitlines())}

    def import_json(self, data, path, *extra, code=0):
        done = ctl("import", "--data", data, path, "--json", *extra)
        self.assertEqual(done.returncode, code, done)
        return json.loads(done.stdout)

    def test_ndjson_good_and_bad_rows(self):
        data = self.fresh()
        rows = [
            {"type": "signup", "member_id": "m-1", "joined_at": "2026-10-01T00:00:00Z"},
            {"type": "purchase", **purchase_body("e-1", "m-1", [line("x", "food", 5000)],
                                                 occurred_at="2026-10-02T10:00:00Z")},
            {"type": "purchase", **purchase_body("e-2", "ghost", [line("x", "food", 5000)],
                                                 occurred_at="2026-10-02T10:00:00Z")},
            {"type": "purchase", **purchase_body("e-3", "m-1", [line("x", "food", -5)],
                                                 occurred_at="2026-10-02T10:00:00Z")},
            {"type": "purchase", "event_id": "e-4", "member_id": "m-1",
             "occurred_at": "2026-10-02T10:00:00Z", "currency": "CNY",
             "lines": [line("x", "food", 100)]},
        ]
        text = "\n".join(json.dumps(r) for r in rows) + "\n"
        text += '{"type": "purchase", "event_id": "e-5", \n'  # line 6: not JSON
        text += json.dumps({"type": "purchase", **purchase_body(
            "e-6", "m-1", [line("x", "food", 100)], occurred_at="yesterday")}) + "\n"
        text += "\n"  # line 8: blank, skipped
        text += json.dumps({"type": "redemption", "member_id": "m-1", "redemption_id": "r-1",
                            "points": 10, "occurred_at": "2026-10-03T00:00:00Z"}) + "\n"
        text += json.dumps({"type": "adjustment", "member_id": "m-1", "adjustment_id": "a-1",
                            "points": 5, "reason": "later",
                            "occurred_at": "2099-01-01T00:00:00Z"}) + "\n"
        text += json.dumps({"type": "transfer", "event_id": "t-1"}) + "\n"
        text += json.dumps({"type": "referral_reward", "id": "referral:e-1", "member_id": "m-1",
                            "referee_id": "m-2", "trigger_event_id": "e-1",
                            "occurred_at": "2026-10-02T10:00:00Z"}) + "\n"
        text += json.dumps({"type": "adjustment", "member_id": "m-1", "adjustment_id": "a-2",
                            "points": 3, "reason": "welcome", "occurred_at":
                            "2026-10-04T00:00:00Z"}) + "\n"
        path = self.write("events.ndjson", text)
        report = os.path.join(self.dir, "rejected.csv")

        done = ctl("import", "--data", data, path, "--report", report)
        self.assertEqual(done.returncode, 1, done)
        expected = [
            "line 3 [e-2]: not_found member_id: no member with this id; sign up first",
            "line 4 [e-3]: invalid_request lines[0].amount_minor: "
            "lines[0].amount_minor must be between 0 and 10^12",
            "line 5 [e-4]: invalid_request store_id: store_id is required",
            "line 6: invalid_request: this line is not a JSON event: the body is not valid "
            "JSON (incomplete JSON)",
            "line 7 [e-6]: invalid_request occurred_at: occurred_at must be an RFC 3339 time "
            "such as 2026-11-20T10:15:00Z",
            "line 10 [a-1]: invalid_request occurred_at: occurred_at is more than 5 minutes in "
            "the future",
            "line 11 [t-1]: invalid_request type: type must be signup, purchase, refund, "
            "redemption, adjustment, hold, hold_capture, hold_void, referral_reward, "
            "referral_reversal, expire, evaluate_tiers, reward_redeem, coupon_use, coupon_cancel, "
            "member_update or member_erase",
            "line 12 [referral:e-1]: not_found id: no referral follow-up with this id is "
            "pending: the engine makes them from their trigger event, which must come earlier "
            "in the file",
        ]
        self.assertEqual(rejected_lines(done.stdout), expected)
        self.assertEqual(done.stdout.splitlines()[-1],
                         f"{path} (ndjson): 12 rows, 4 applied, 0 replayed, 8 rejected")
        with open(report) as f:
            report_rows = list(csv.DictReader(f))
        self.assertEqual([int(r["line"]) for r in report_rows], [3, 4, 5, 6, 7, 10, 11, 12])
        self.assertEqual(report_rows[0], {"line": "3", "id": "e-2", "code": "not_found",
                                          "field": "member_id",
                                          "message": "no member with this id; sign up first"})
        # The good rows applied, in file order: 50 earned, 10 redeemed, 3 adjusted.
        m1 = self.members(data)["m-1"]
        self.assertEqual((m1["available"], m1["purchase_count"]), (43, 1))
        self.assertEqual(m1["joined_at"], "2026-10-01T00:00:00Z")

        # Importing the same file again changes nothing: the good rows are replays.
        first_digest = self.import_json(data, path, "--digest", code=1)["digest"]
        again = self.import_json(data, path, "--digest", code=1)
        self.assertEqual((again["rows"], again["applied"], again["replayed"], again["rejected"]),
                         (12, 0, 4, 8))
        self.assertEqual(again["digest"], first_digest)
        self.assertEqual(self.members(data)["m-1"]["available"], 43)

    def test_members_csv(self):
        data = self.fresh()
        path = self.write("members.csv", "\n".join([
            "member_id,phone,card_no,referral_code,joined_at,opening_points,"
            "assigned_referral_code",
            "m-a,+8613800000001,C-1,,2026-09-01T00:00:00Z,500,ABCD2345",
            "m-b,,,abcd2345,2026-09-02T00:00:00Z,,",
            "m c,,,,,,",                                    # line 4: a space in the id
            "m-d,,,,2026-13-01T00:00:00Z,,",                # line 5: no 13th month
            "m-e,,,,,-3,",                                  # line 6: negative opening balance
            "m-f,,,ZZZZZZZZ,,,",                            # line 7: nobody has this code
            "m-g,+8613800000001,,,,,",                      # line 8: m-a's phone
            '"m,h",,,,,"7",',                                # quoted: a comma in the id
            "m-i,,",                                        # line 10: too few fields
            ",,,,,,",                                       # line 11: no member_id
        ]) + "\n")
        done = ctl("import", "--data", data, path)
        self.assertEqual(done.returncode, 1, done)
        self.assertEqual(rejected_lines(done.stdout), [
            "line 4 [m c]: invalid_request member_id: member_id must be 1 to 128 printable "
            "ASCII characters without spaces",
            "line 5 [m-d]: invalid_request joined_at: joined_at must be an RFC 3339 time such "
            "as 2026-11-20T10:15:00Z",
            "line 6 [m-e]: invalid_request opening_points: opening_points must be a whole "
            "number, 0 or more",
            "line 7 [m-f]: unknown_referral_code referral_code: no member has this referral "
            "code",
            "line 8 [m-g]: member_exists phone: another member has this phone",
            "line 10 [m-i]: invalid_request: the row has 3 fields; the header has 7",
            "line 11: invalid_request member_id: member_id is required",
        ])
        self.assertEqual(done.stdout.splitlines()[-1],
                         f"{path} (members_csv): 10 rows, 3 applied, 0 replayed, 7 rejected")
        members = self.members(data)
        self.assertEqual(set(members), {"m-a", "m-b", "m,h"})
        self.assertEqual(members["m-a"]["available"], 500)
        self.assertEqual(members["m-a"]["referral_code"], "ABCD2345")
        self.assertEqual(members["m-a"]["phone"], "+8613800000001")
        self.assertEqual(members["m-b"]["referred_by"], "m-a")
        self.assertEqual(members["m,h"]["available"], 7)
        ledger = [json.loads(l) for l in
                  ctl("export", "ledger", "--data", data).stdout.splitlines()]
        opening = [e for e in ledger if e["member_id"] == "m-a"]
        self.assertEqual([(e["type"], e["points"], e["reference"]) for e in opening],
                         [("adjust", 500, "import-opening:m-a")])

        again = self.import_json(data, path, code=1)
        self.assertEqual((again["applied"], again["replayed"], again["rejected"]), (0, 3, 7))
        self.assertEqual(self.members(data)["m-a"]["available"], 500)

    def test_purchases_csv(self):
        data = self.fresh()
        members = self.write("members.csv", "member_id\np-1\np-2\n")
        self.assertEqual(self.import_json(data, members)["applied"], 2)
        header = "event_id,member_id,store_id,occurred_at,currency,sku,category,quantity," \
                 "amount_minor"
        path = self.write("purchases.csv", "\n".join([
            header,
            "e-1,p-1,s-1,2026-10-05T10:00:00Z,CNY,latte,beverage,1,3000",   # 2-3: one basket
            'e-1,p-1,s-1,2026-10-05T10:00:00Z,CNY,"cake, lemon",food,2,2000',
            "e-2,ghost,s-1,2026-10-05T10:00:00Z,CNY,x,food,1,1000",          # 4: unknown member
            "e-3,p-1,s-1,2026-10-06T10:00:00Z,CNY,x,food,1,1000",            # 5-6: bad 2nd line
            "e-3,p-1,s-1,2026-10-06T10:00:00Z,CNY,y,food,1,-100",
            "e-4,p-2,,2026-10-06T10:00:00Z,CNY,x,food,1,1000",               # 7: no store
            "e-5,p-2,s-1,2026-10-06 10:00,CNY,x,food,1,1000",                # 8: bad time
            "e-6,p-2,s-1,2026-10-07T10:00:00Z,CNY,x,food,1,1000",            # 9-10: disagree
            "e-6,p-1,s-1,2026-10-07T10:00:00Z,CNY,y,food,1,1000",
            "e-7,p-2,s-1,2026-10-08T10:00:00Z,CNY,x,food,1,1000",            # 11-13: broken
            'e-7,p-2,s-1,2026-10-08T10:00:00Z,CNY,"y"z,food,1,1000',
            "e-7,p-2,s-1,2026-10-08T10:00:00Z,CNY,z,food,1,1000",
            "e-8,p-2,s-1,2026-10-09T10:00:00Z,CNY,x,food,3,4000",            # 14
        ]) + "\n")
        done = ctl("import", "--data", data, path)
        self.assertEqual(done.returncode, 1, done)
        self.assertEqual(rejected_lines(done.stdout), [
            "line 4 [e-2]: not_found member_id: no member with this id; sign up first",
            "line 6 [e-3]: invalid_request amount_minor: amount_minor must be between 0 and "
            "10^12",
            "line 7 [e-4]: invalid_request store_id: store_id is required",
            "line 8 [e-5]: invalid_request occurred_at: occurred_at must be an RFC 3339 time "
            "such as 2026-11-20T10:15:00Z",
            "line 10 [e-6]: invalid_request member_id: the lines of purchase e-6 disagree on "
            "member_id",
            "line 11 [e-7]: invalid_request: purchase not imported: its line 12 is malformed",
            "line 12: invalid_request: a quoted field must be followed by a comma or the end "
            "of the line",
        ])
        self.assertEqual(done.stdout.splitlines()[-1],
                         f"{path} (purchases_csv): 9 rows, 2 applied, 0 replayed, 7 rejected")
        members = self.members(data)
        # p-1: one basket of 50.00 → 50 points; p-2: 40.00 → 40 points (its first purchase).
        self.assertEqual((members["p-1"]["available"], members["p-1"]["purchase_count"]), (50, 1))
        self.assertEqual((members["p-2"]["available"], members["p-2"]["purchase_count"]), (40, 1))

        again = self.import_json(data, path, code=1)
        self.assertEqual((again["rows"], again["applied"], again["replayed"]), (9, 0, 2))
        self.assertEqual(self.members(data)["p-1"]["available"], 50)

    def test_export_events_import_gives_the_same_digest(self):
        server = Server(program_toml=PROGRAM)
        self.servers.append(server)
        s = server.start()
        alice = s.signup("alice", key=APP_KEY)
        self.assertEqual(alice.status, 201)
        code = alice.json["referral_code"]
        for member, extra in [("bob", {"referral_code": code, "phone": "+8613900000001",
                                       "joined_at": "2026-10-01T00:00:00Z",
                                       "profile": {"name": "Bob", "vip": True}}),
                              ("carol", {"referral_code": code.lower(),
                                         "joined_at": "2026-10-01T00:00:00Z"})]:
            self.assertEqual(s.signup(member, key=APP_KEY, **extra).status, 201)
        for event_id, member, amount, at in [
                ("o-1", "alice", 60000, "2026-10-05T10:00:00Z"),
                ("o-2", "alice", 1000, "2026-10-06T10:00:00Z"),
                ("o-3", "bob", 2000, "2026-10-07T10:00:00Z"),
                ("o-4", "carol", 3000, "2026-10-07T11:00:00Z")]:
            r = s.purchase(purchase_body(event_id, member, [line("x", "food", amount)],
                                         occurred_at=at), key=POS_KEY)
            self.assertEqual(r.status, 200, r)
        steps = [
            ("POST", "/v1/members/alice/redemptions", {"redemption_id": "red-1", "points": 100}),
            ("POST", "/v1/members/alice/adjustments",
             {"adjustment_id": "adj-1", "points": -7, "reason": "correction"}),
            ("POST", "/v1/holds", {"hold_id": "h-1", "member_id": "alice", "points": 50}),
            ("POST", "/v1/holds/h-1:void", None),
            ("POST", "/v1/holds", {"hold_id": "h-2", "member_id": "alice", "points": 40}),
            ("POST", "/v1/events/refund", {"event_id": "o-3-r", "original_event_id": "o-3",
                                           "occurred_at": "2026-10-08T10:00:00Z",
                                           "amount_minor": 2000}),
            ("POST", "/v1/events/refund", {"event_id": "o-2-r", "original_event_id": "o-2",
                                           "occurred_at": "2026-10-08T10:00:00Z",
                                           "amount_minor": 400}),
        ]
        # Customer service's changes: a new phone, a profile cleared, a block and an unblock.
        steps += [
            ("PATCH", "/v1/members/bob", {"phone": "+8613900000009", "profile": None}),
            ("PATCH", "/v1/members/carol", {"blocked": True, "card_no": "C-CAROL"}),
            ("PATCH", "/v1/members/carol", {"blocked": False}),
            # The right to erasure: her sign-up and changes are blanked in the log itself.
            ("POST", "/v1/members/carol:erase", {"erasure_id": "x-carol", "reason": "request 1"}),
        ]
        for method, path, body in steps:
            r = s.request(method, path, body, key=ADMIN_KEY)
            self.assertIn(r.status, (200, 201), (path, r))
        r = s.purchase(purchase_body("o-5", "alice", [line("x", "food", 20000)],
                                     occurred_at="2026-11-02T10:00:00Z", hold_id="h-2"),
                       key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        # The points mall: coupons redeemed, used at a till, cancelled, used in a sale that is
        # then refunded (the reward restores it); the expiry job below expires what is left.
        codes = []
        for redemption_id in ("rr-1", "rr-2"):
            r = s.request("POST", "/v1/members/alice/rewards/free-drink:redeem",
                          {"redemption_id": redemption_id}, key=APP_KEY)
            self.assertEqual(r.status, 201, r)
            codes.append(r.json["coupon"]["code"])
        for method, path, body in [
                ("POST", f"/v1/coupons/{codes[0]}:use", {"use_id": "till-1", "store_id": "s-1"}),
                ("POST", f"/v1/coupons/{codes[1]}:cancel", None)]:
            r = s.request(method, path, body, key=ADMIN_KEY)
            self.assertEqual(r.status, 200, (path, r))
        r = s.request("POST", "/v1/members/alice/rewards/free-drink:redeem",
                      {"redemption_id": "rr-3"}, key=APP_KEY)
        self.assertEqual(r.status, 201, r)
        r = s.purchase(purchase_body("o-6", "alice", [line("x", "food", 3000)],
                                     occurred_at=now_rfc3339(-60),
                                     coupons=[r.json["coupon"]["code"]]), key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        r = s.request("POST", "/v1/events/refund", {"event_id": "o-6-r",
                      "original_event_id": "o-6", "occurred_at": now_rfc3339(-30),
                      "amount_minor": 3000}, key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(server.stop(), 0)
        source = server.data_dir
        # Operator jobs are part of the log too.
        self.assertEqual(ctl("expire", "--data", source, "--as-of",
                             "2027-01-10T00:00:00Z").returncode, 0)
        self.assertEqual(ctl("tiers", "evaluate", "--data", source, "--as-of",
                             "2027-02-01T00:00:00Z").returncode, 0)

        exported = ctl("export", "events", "--data", source)
        self.assertEqual(exported.returncode, 0, exported)
        lines = [json.loads(l) for l in exported.stdout.splitlines()]
        self.assertEqual({l["type"] for l in lines}, {
            "signup", "purchase", "refund", "redemption", "adjustment", "hold", "hold_void",
            "referral_reward", "referral_reversal", "expire", "evaluate_tiers", "reward_redeem",
            "coupon_use", "coupon_cancel", "member_update", "member_erase"})
        carol = [l for l in lines if l.get("member_id") == "carol"
                 and l["type"] in ("signup", "member_update")]
        self.assertTrue(carol)
        for event in carol:
            for field in ("phone", "card_no", "profile"):
                self.assertIn(event.get(field), (None, ""), (field, event))
        redeemed = next(l for l in lines if l["type"] == "reward_redeem")
        self.assertEqual((redeemed["code"], redeemed["stock_granted"]), (codes[0], False))
        # What the server decided on arrival travels with the event.
        alice_line = next(l for l in lines if l["type"] == "signup" and l["member_id"] == "alice")
        self.assertEqual(alice_line["assigned_referral_code"], code)
        self.assertIn("joined_at", alice_line)
        self.assertIn("occurred_at", next(l for l in lines if l["type"] == "redemption"))
        path = self.write("events.ndjson", exported.stdout)

        replay = ctl("replay", "--data", source, "--into", os.path.join(self.dir, "replayed"),
                     "--json")
        self.assertEqual(replay.returncode, 0, replay)
        source_digest = json.loads(replay.stdout)["digest"]

        target = self.fresh()
        report = self.import_json(target, path, "--digest")
        self.assertEqual(report["rows"], len(lines))
        self.assertEqual(report["applied"], len(lines))
        self.assertEqual(report["follow_ups_applied"], 0, "the file placed every follow-up")
        self.assertEqual(report["digest"], source_digest)
        self.assertEqual(ctl("export", "ledger", "--data", target).stdout,
                         ctl("export", "ledger", "--data", source).stdout)
        self.assertEqual(ctl("verify", "--data", target).returncode, 0)

        # Into the folder it came from, and into the copy again: nothing changes.
        for folder in (source, target):
            again = self.import_json(folder, path, "--digest")
            self.assertEqual((again["applied"], again["replayed"]), (0, len(lines)))
            self.assertEqual(again["digest"], source_digest)

    def test_follow_ups_without_a_place_are_applied_after_the_file(self):
        """A migration file names no follow-ups: the referrer is still rewarded."""
        data = self.fresh()
        path = self.write("migration.ndjson", "\n".join(json.dumps(r) for r in [
            {"type": "signup", "member_id": "ref", "assigned_referral_code": "REF23456",
             "joined_at": "2026-09-01T00:00:00Z"},
            {"type": "signup", "member_id": "new", "referral_code": "REF23456",
             "joined_at": "2026-10-01T00:00:00Z"},
            {"type": "purchase", **purchase_body("n-1", "new", [line("x", "food", 2000)],
                                                 occurred_at="2026-10-02T10:00:00Z")},
        ]) + "\n")
        report = self.import_json(data, path)
        self.assertEqual((report["applied"], report["follow_ups_applied"]), (3, 1))
        members = self.members(data)
        self.assertEqual(members["ref"]["available"], 200)
        self.assertEqual(members["new"]["available"], 70)
        again = self.import_json(data, path)
        self.assertEqual((again["replayed"], again["follow_ups_applied"]), (3, 0))
        self.assertEqual(self.members(data)["ref"]["available"], 200)

    def test_import_refuses_unreadable_input_with_2(self):
        data = self.fresh()
        cases = [
            (os.path.join(self.dir, "missing.ndjson"), "cannot read"),
            (self.write("empty.csv", "\n\n"), "is empty"),
            (self.write("other.csv", "name,amount\nx,1\n"), "neither a JSON event"),
            (self.write("bad.csv", "event_id,member_id\ne,m\n"),
             "a purchases header needs column store_id"),
            (self.write("extra.csv", "member_id,nickname\nm,x\n"),
             "unknown column nickname in a members header"),
        ]
        for path, message in cases:
            done = ctl("import", "--data", data, path)
            self.assertEqual(done.returncode, 2, (path, done))
            self.assertIn(message, done.stderr)
        self.assertEqual(self.members(data), {})
        good = self.write("ok.csv", "member_id\nm\n")
        self.assertEqual(ctl("import", good).returncode, 2, "no --data")
        self.assertEqual(ctl("import", "--data", data).returncode, 2, "no file")
        self.assertEqual(ctl("import", "--data", data, good, "--report",
                             os.path.join(self.dir, "no", "such", "dir.csv")).returncode, 2)
        self.assertEqual(ctl("export", "events", "--data", data, "--format", "csv").returncode, 2)
        self.assertEqual(self.members(data), {})


class ExitCodesAndJson(unittest.TestCase):
    """Every loyaltyctl command: bad usage → 2; success → 0 with parseable --json; a problem
    the command can detect → 1."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(program_toml=PROGRAM)
        s = cls.server.start()
        assert s.signup("amy", key=APP_KEY).status == 201
        r = s.purchase(purchase_body("x-1", "amy", [line("x", "food", 5000)],
                                     occurred_at="2026-10-05T10:00:00Z"), key=POS_KEY)
        assert r.status == 200, r
        r = s.purchase(purchase_body("x-2", "amy", [line("x", "food", 1000)],
                                     occurred_at="2026-10-06T10:00:00Z"), key=POS_KEY)
        assert r.status == 200, r
        assert cls.server.stop() == 0
        cls.data = cls.server.data_dir
        cls.dir = cls.server.dir

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_success_exits_0_with_json(self):
        good = self.path("good.ndjson")
        with open(good, "w") as f:
            f.write(json.dumps({"type": "signup", "member_id": "zed"}) + "\n")
        table = [
            (["verify"], {"members_checked", "breaches", "ok"}),
            (["stats"], {"members", "points_outstanding", "members_per_tier",
                         "liability_by_expiry_month", "referral_funnel"}),
            (["replay", "--into", self.path("r1")], {"events", "members", "digest",
                                                     "replayed_digest", "ok"}),
            (["expire", "--as-of", "2026-10-10T00:00:00Z"],
             {"job_id", "members", "points_expired", "tier_changes", "already_done", "failed"}),
            (["tiers", "evaluate", "--as-of", "2026-10-10T00:00:00Z"],
             {"job_id", "members", "points_expired", "tier_changes", "already_done", "failed"}),
            (["import", good, "--digest"], {"file", "format", "rows", "applied", "replayed",
                                            "rejected", "follow_ups_applied",
                                            "follow_ups_failed", "rejections", "digest", "ok"}),
            (["backup", "--to", self.path("b1")], {"backup_id", "size_bytes", "files",
                                                   "verified"}),
        ]
        for args, keys in table:
            done = ctl(*args, "--data", self.data, "--json")
            self.assertEqual(done.returncode, 0, (args, done))
            self.assertTrue(keys <= set(json.loads(done.stdout)), (args, done.stdout))
        done = ctl("restore", "--from", self.path("b1"), "--data", self.path("restored"),
                   "--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["ok"])
        for what in ("members", "ledger", "events"):
            done = ctl("export", what, "--data", self.data, "--json")
            self.assertEqual(done.returncode, 0, (what, done))
            self.assertTrue(all(isinstance(json.loads(l), dict)
                                for l in done.stdout.splitlines()), what)

    def test_usage_errors_exit_2(self):
        table = [
            ["verify"],                                       # no --data
            ["stats", "--data", self.data, "--bogus"],
            ["replay", "--data", self.data],                  # no --into
            ["replay", "--data", self.data, "--into", self.data],  # not empty
            ["expire", "--data", self.data, "--as-of", "soon"],
            ["tiers", "evaluate", "--data", self.data],       # no --as-of
            ["tiers", "--data", self.data],                   # no sub-command
            ["export", "things", "--data", self.data],
            ["export", "ledger", "--data", self.data, "--format", "xml"],
            ["import", "--data", self.data, self.path("nothing-here.csv")],
            ["backup", "--data", self.data],                  # no --to
            ["restore", "--data", self.path("r-nowhere")],    # no --from
            ["restore", "--from", self.path("no-backups"), "--data", self.path("r2")],
            ["nonsense"],
        ]
        for args in table:
            done = ctl(*args, "--json") if args != ["nonsense"] else ctl(*args)
            self.assertEqual(done.returncode, 2, (args, done))

    def test_problems_found_exit_1(self):
        # A purchase of a member nobody signed up: import reports it and exits 1.
        bad = self.path("bad.ndjson")
        with open(bad, "w") as f:
            f.write(json.dumps({"type": "purchase", **purchase_body(
                "x-9", "nobody", [line("x", "food", 100)])}) + "\n")
        done = ctl("import", "--data", self.data, bad, "--json")
        self.assertEqual(done.returncode, 1, done)
        self.assertEqual(json.loads(done.stdout)["rejected"], 1)
        self.assertFalse(json.loads(done.stdout)["ok"])

        # A copy of the store with one ledger entry altered: verify finds the breach, replay the
        # differing digest, and a backup of it restores into a folder that fails verification.
        broken = self.path("broken")
        shutil.copytree(self.data, broken)
        done = subprocess.run([STORE_TAMPER, broken, "amy", "1"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done)
        done = ctl("verify", "--data", broken, "--json")
        self.assertEqual(done.returncode, 1, done)
        report = json.loads(done.stdout)
        self.assertFalse(report["ok"])
        self.assertEqual([b["member_id"] for b in report["breaches"]], ["amy"])
        done = ctl("replay", "--data", broken, "--into", self.path("r3"), "--json")
        self.assertEqual(done.returncode, 1, done)
        self.assertFalse(json.loads(done.stdout)["ok"])
        self.assertEqual(ctl("backup", "--data", broken, "--to", self.path("b2")).returncode, 0)
        done = ctl("restore", "--from", self.path("b2"), "--data", self.path("r4"), "--json")
        self.assertEqual(done.returncode, 1, done)
        self.assertFalse(json.loads(done.stdout)["ok"])


if __name__ == "__main__":
    unittest.main()
