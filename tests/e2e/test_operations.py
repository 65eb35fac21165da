"""Operator commands on a real data folder (server stopped): expire and tier jobs (run twice
changes nothing more), replay into a fresh folder with equal digests, export (NDJSON, CSV),
backup → restore → verify, exit codes and --json output."""
import csv
import io
import json
import os
import unittest

from harness import APP_KEY, POS_KEY, Server, ctl, line, operator_program, purchase_body

PROGRAM = operator_program("ops-club")


class Operations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(program_toml=PROGRAM)
        s = cls.server.start()
        alice = s.signup("alice", key=APP_KEY)
        assert alice.status == 201, alice
        assert s.signup("bob", key=APP_KEY, referral_code=alice.json["referral_code"],
                        phone="+8613900000001", joined_at="2026-10-01T00:00:00Z").status == 201
        # Alice: 600.00 in October (gold), Bob: a first qualifying purchase (referral follow-up).
        for event_id, member, amount, at in [
                ("o-1", "alice", 60000, "2026-10-05T10:00:00Z"),
                ("o-2", "alice", 1000, "2026-10-06T10:00:00Z"),
                ("o-3", "bob", 2000, "2026-10-07T10:00:00Z")]:
            r = s.purchase(purchase_body(event_id, member, [line("x", "food", amount)],
                                         occurred_at=at), key=POS_KEY)
            assert r.status == 200, r
        r = s.request("POST", "/v1/members/alice/redemptions",
                      {"redemption_id": "red-1", "points": 100}, key=APP_KEY)
        assert r.status == 201, r
        r = s.request("POST", "/v1/events/refund", {"event_id": "o-2-refund",
                                                    "original_event_id": "o-2",
                                                    "occurred_at": "2026-10-08T10:00:00Z",
                                                    "amount_minor": 500}, key=POS_KEY)
        assert r.status == 200, r
        assert s.stop() == 0
        cls.data = s.data_dir

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def balance(self, member):
        done = ctl("export", "members", "--data", self.data)
        self.assertEqual(done.returncode, 0, done)
        rows = [json.loads(l) for l in done.stdout.splitlines()]
        return {r["member_id"]: r for r in rows}[member]

    def test_1_verify_and_stats(self):
        done = ctl("verify", "--data", self.data, "--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["ok"])
        stats = json.loads(ctl("stats", "--data", self.data, "--json").stdout)
        self.assertEqual(stats["members"], 2)
        self.assertEqual(stats["members_per_tier"], {"gold": 1, "green": 1})
        self.assertEqual(stats["referral_funnel"], {"referred": 1, "first_purchase_rewarded": 1})
        self.assertEqual(sum(stats["liability_by_expiry_month"].values()),
                         sum(stats["points_outstanding"].values()))

    def test_2_replay_gives_the_same_digest(self):
        into = os.path.join(self.server.dir, "replayed")
        done = ctl("replay", "--data", self.data, "--into", into, "--json")
        self.assertEqual(done.returncode, 0, done)
        report = json.loads(done.stdout)
        self.assertTrue(report["ok"], report)
        self.assertEqual(report["digest"], report["replayed_digest"])
        self.assertGreaterEqual(report["events"], 7)
        again = ctl("replay", "--data", self.data, "--into", into)
        self.assertEqual(again.returncode, 2, "replay refuses a folder that is not empty")

    def test_3_export_csv_matches_ndjson(self):
        ndjson = [json.loads(l) for l in
                  ctl("export", "ledger", "--data", self.data).stdout.splitlines()]
        rows = list(csv.DictReader(io.StringIO(
            ctl("export", "ledger", "--data", self.data, "--format", "csv").stdout)))
        self.assertEqual(len(rows), len(ndjson))
        self.assertEqual([int(r["points"]) for r in rows], [e["points"] for e in ndjson])
        types = {e["type"] for e in ndjson}
        self.assertTrue({"earn", "bonus", "redeem", "reverse", "referral_bonus",
                         "tier_change"} <= types, types)
        members = list(csv.DictReader(io.StringIO(
            ctl("export", "members", "--data", self.data, "--format", "csv").stdout)))
        self.assertEqual({m["member_id"] for m in members}, {"alice", "bob"})
        self.assertEqual(ctl("export", "things", "--data", self.data).returncode, 2)

    def test_4_jobs_run_twice_change_nothing_more(self):
        before = self.balance("alice")
        self.assertEqual(before["tier"], "gold")
        # 90-day expiry: everything earned in October has expired by 2027-01-10.
        done = ctl("expire", "--data", self.data, "--as-of", "2027-01-10T00:00:00Z", "--json")
        self.assertEqual(done.returncode, 0, done)
        first = json.loads(done.stdout)
        self.assertGreater(first["points_expired"], 0)
        after = self.balance("alice")
        self.assertEqual(after["available"], 0)
        again = json.loads(ctl("expire", "--data", self.data, "--as-of",
                               "2027-01-10T00:00:00Z", "--json").stdout)
        self.assertEqual(again["points_expired"], 0)
        self.assertEqual(again["already_done"], 2)
        # Spend left the one-month window and retain_months = 0: evaluation lowers alice.
        done = ctl("tiers", "evaluate", "--data", self.data, "--as-of", "2027-02-01T00:00:00Z",
                   "--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertEqual(json.loads(done.stdout)["tier_changes"], 1)
        self.assertEqual(self.balance("alice")["tier"], "green")
        self.assertEqual(ctl("verify", "--data", self.data).returncode, 0)
        self.assertEqual(ctl("expire", "--data", self.data, "--as-of", "soon").returncode, 2)

    def test_5_backup_restore_verify(self):
        backups = os.path.join(self.server.dir, "backups")
        done = ctl("backup", "--data", self.data, "--to", backups, "--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["verified"])
        restored = os.path.join(self.server.dir, "restored")
        done = ctl("restore", "--from", backups, "--data", restored, "--json")
        self.assertEqual(done.returncode, 0, done)
        self.assertTrue(json.loads(done.stdout)["ok"])
        original = ctl("export", "ledger", "--data", self.data).stdout
        self.assertEqual(ctl("export", "ledger", "--data", restored).stdout, original)
        self.assertEqual(ctl("restore", "--from", backups, "--data", restored).returncode, 2,
                         "restore refuses a folder that is not empty")

    def test_6_usage_errors_exit_2(self):
        self.assertEqual(ctl("verify").returncode, 2)
        self.assertEqual(ctl("nonsense").returncode, 2)
        self.assertEqual(ctl("verify", "--data", self.data, "--bogus").returncode, 2)
        self.assertEqual(ctl("--help").returncode, 0)
        self.assertEqual(ctl("export", "--help").returncode, 0)


if __name__ == "__main__":
    unittest.main()
