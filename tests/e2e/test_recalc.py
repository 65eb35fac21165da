"""loyaltyctl recalc on a data folder written by a real loyaltyd: a dry run reports the exact
deltas (JSON on stdout, JSON + CSV report files that agree) and changes nothing; --apply
writes one adjust entry per changed purchase, and applying again changes nothing more; the
books balance and the event log replays to the same digest; bad input exits 2."""
import csv
import io
import json
import os
import subprocess
import unittest

from harness import APP_KEY, LOYALTYCTL, POS_KEY, Server, line, purchase_body

# Program A: 1 point per 1.00 CNY, beverages x2.
PROGRAM_A = """
[program]
id = "recalc-e2e"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[earning.category_multipliers]
beverage = 2.0

[expiry]
mode = "days"
days = 365
"""

# Program B: beverages x3, food x0.5.
PROGRAM_B = PROGRAM_A.replace("beverage = 2.0\n", "beverage = 3.0\nfood = 0.5\n")

FROM, TO = "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"

# (member, event, old points, new points, delta), worked out from the two programs:
#   q-1 beverage 100.00: A 100 x 2 = 200, B 100 x 3 = 300                      +100
#   q-2 food 40.00: A 40, half refunded (20 reversed) = 20;
#       B 40 x 0.5 = 20, the same refund reverses 10 = 10                      -10
#   q-3 beverage 25.00: A 50, B 75                                              +25
#   q-4 (September) is out of range.
EXPECTED = [("ann", "q-1", 200, 300, 100), ("ann", "q-2", 20, 10, -10),
            ("ben", "q-3", 50, 75, 25)]


def ctl(*args):
    return subprocess.run([LOYALTYCTL, *args], capture_output=True, text=True, timeout=120)


class Recalc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(program_toml=PROGRAM_A)
        s = cls.server.start()
        for member in ("ann", "ben"):
            r = s.signup(member, key=APP_KEY)
            assert r.status == 201, r
        for event_id, member, category, amount, at in [
                ("q-1", "ann", "beverage", 10000, "2026-10-05T10:00:00Z"),
                ("q-2", "ann", "food", 4000, "2026-10-06T10:00:00Z"),
                ("q-3", "ben", "beverage", 2500, "2026-10-07T10:00:00Z"),
                ("q-4", "ben", "beverage", 1000, "2026-09-20T10:00:00Z")]:
            r = s.purchase(purchase_body(event_id, member, [line("x", category, amount)],
                                         occurred_at=at), key=POS_KEY)
            assert r.status == 200, r
        r = s.request("POST", "/v1/events/refund", {"event_id": "q-2-refund",
                                                    "original_event_id": "q-2",
                                                    "occurred_at": "2026-10-08T10:00:00Z",
                                                    "amount_minor": 2000}, key=POS_KEY)
        assert r.status == 200 and r.json["points_reversed"] == 20, r
        assert s.stop() == 0
        cls.data = s.data_dir
        cls.program_b = os.path.join(cls.server.dir, "program_b.toml")
        with open(cls.program_b, "w") as f:
            f.write(PROGRAM_B)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def recalc(self, *extra, program=None):
        return ctl("recalc", "--data", self.data, "--program", program or self.program_b,
                   "--from", FROM, "--to", TO, *extra)

    def ledger(self):
        done = ctl("export", "ledger", "--data", self.data)
        self.assertEqual(done.returncode, 0, done)
        return [json.loads(l) for l in done.stdout.splitlines()]

    def check_report(self, report):
        self.assertEqual(report["events_examined"], 3)
        self.assertEqual(report["events_changed"], 3)
        self.assertEqual(report["members_affected"], 2)
        self.assertEqual(report["total_delta"], 115)
        self.assertEqual(report["total_positive"], 125)
        self.assertEqual(report["total_negative"], -10)
        self.assertEqual(report["from"], FROM)
        self.assertEqual(report["to"], TO)
        self.assertTrue(report["job_id"].startswith("recalc-"))
        largest = [(c["member_id"], c["event_id"], c["old_points"], c["new_points"], c["delta"])
                   for c in report["largest"]]
        self.assertEqual(largest, [EXPECTED[0], EXPECTED[2], EXPECTED[1]])  # by |delta|
        counts = {b["label"]: b["count"] for b in report["histogram"] if b["count"]}
        self.assertEqual(counts, {"100..999": 1, "10..99": 1, "-99..-10": 1})

    def test_1_dry_run_reports_and_changes_nothing(self):
        before = self.ledger()
        done = self.recalc("--dry-run", "--json")
        self.assertEqual(done.returncode, 0, done)
        report = json.loads(done.stdout)
        self.check_report(report)
        self.assertEqual(report["mode"], "dry_run")
        self.assertEqual(self.ledger(), before)
        # Plain output is a summary a person reads.
        summary = self.recalc("--dry-run")
        self.assertEqual(summary.returncode, 0, summary)
        self.assertIn("3 purchases examined, 3 changed, 2 members affected", summary.stdout)
        self.assertIn("total delta +115", summary.stdout)
        self.assertEqual(self.ledger(), before)

    def test_2_report_files_agree(self):
        path = os.path.join(self.server.dir, "report")
        done = self.recalc("--dry-run", "--report", path)
        self.assertEqual(done.returncode, 0, done)
        with open(path + ".json") as f:
            report = json.load(f)
        with open(path + ".csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.check_report(report)
        self.assertEqual([(r["member_id"], r["event_id"], int(r["old_points"]),
                           int(r["new_points"]), int(r["delta"])) for r in rows], EXPECTED)
        self.assertEqual(len(rows), report["events_changed"])
        self.assertEqual(sum(int(r["delta"]) for r in rows), report["total_delta"])
        for r in rows:
            self.assertEqual(r["job_id"], report["job_id"])
            self.assertEqual(r["adjustment_id"], f"recalc:{report['job_id']}:{r['event_id']}")
        # A path ending in .json names the pair the same way.
        named = os.path.join(self.server.dir, "named.json")
        self.assertEqual(self.recalc("--dry-run", "--report", named).returncode, 0)
        self.assertTrue(os.path.exists(named))
        self.assertTrue(os.path.exists(os.path.join(self.server.dir, "named.csv")))

    def test_3_bad_input_exits_2(self):
        bad = os.path.join(self.server.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write(PROGRAM_A.replace("points_per_unit = 1", "points_per_unit = -1"))
        done = self.recalc("--dry-run", program=bad)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("earning.points_per_unit", done.stderr)
        self.assertEqual(self.recalc("--dry-run", "--apply").returncode, 2)
        self.assertEqual(self.recalc().returncode, 2, "one of --dry-run / --apply is required")
        self.assertEqual(ctl("recalc", "--data", self.data, "--program", self.program_b,
                             "--from", "October", "--to", TO, "--dry-run").returncode, 2)
        self.assertEqual(ctl("recalc", "--data", self.data, "--program", self.program_b,
                             "--from", TO, "--to", FROM, "--dry-run").returncode, 2)
        missing = os.path.join(self.server.dir, "missing.toml")
        self.assertEqual(self.recalc("--dry-run", program=missing).returncode, 2)

    def test_4_apply_writes_adjustments_once(self):
        done = self.recalc("--apply", "--json")
        self.assertEqual(done.returncode, 0, done)
        report = json.loads(done.stdout)
        self.check_report(report)
        self.assertEqual(report["mode"], "apply")
        self.assertEqual(report["adjustments_applied"], 3)
        self.assertEqual(report["adjustments_failed"], 0)
        self.assertEqual(report["program_version"], 2, "B is stored as version 2, not active")
        job = report["job_id"]

        adjusts = [(e["member_id"], e["reference"], e["points"], e["program_version"])
                   for e in self.ledger() if e["type"] == "adjust"]
        self.assertEqual(sorted(adjusts), sorted(
            (member, f"recalc:{job}:{event}", delta, 2) for member, event, _, _, delta in EXPECTED))

        again = self.recalc("--apply", "--json")
        self.assertEqual(again.returncode, 0, again)
        second = json.loads(again.stdout)
        self.assertEqual(second["job_id"], job, "the same rules and range are the same job")
        self.assertEqual(second["events_changed"], 0)
        self.assertEqual(second["adjustments_applied"], 0)
        self.assertEqual(len([e for e in self.ledger() if e["type"] == "adjust"]), 3)

        verify = ctl("verify", "--data", self.data, "--json")
        self.assertEqual(verify.returncode, 0, verify)
        into = os.path.join(self.server.dir, "replayed")
        replay = ctl("replay", "--data", self.data, "--into", into, "--json")
        self.assertEqual(replay.returncode, 0, replay)
        self.assertTrue(json.loads(replay.stdout)["ok"])

        # The server still runs program A and shows the adjustments in the member's ledger.
        s = self.server.start()
        try:
            r = s.request("GET", "/v1/members/ann/ledger?limit=10", key=APP_KEY)
            self.assertEqual(r.status, 200, r)
            references = [e["reference"] for e in r.json["entries"] if e["type"] == "adjust"]
            self.assertEqual(sorted(references), [f"recalc:{job}:q-1", f"recalc:{job}:q-2"])
            member = s.member("ann").json
            # 200 + 20 (q-2 after its refund) + 100 - 10
            self.assertEqual(member["balance"]["available"], 310)
        finally:
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
