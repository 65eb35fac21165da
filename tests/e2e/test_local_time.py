"""Local time over HTTP (domain.md, "Local time"): a Shanghai program with a London store. The
weekend campaign follows each store's calendar, times with any offset are accepted and written
back in UTC, a calendar-year tier window turns at local New Year, month-end expiry runs at local
midnight, a recalculation judges history in its program's zone, stats count months locally, and
every bad zone or hours value is refused naming its key (loyaltyd, PUT /v1/program,
POST /v1/program:validate, loyaltyctl recalc)."""
import json
import os
import unittest

import harness
from harness import ADMIN_KEY, Server, ctl, line, purchase_body, run_job

PROGRAM = """
[program]
id = "shanghai-coffee"
currency = "CNY"
time_zone = "Asia/Shanghai"

[[stores]]
id = "s-london"
time_zone = "Europe/London"

[earning]
points_per_unit = 1
unit_minor = 100

[[campaigns]]
id = "double-weekend"
starts_at = "2026-11-01T00:00:00+08:00"
ends_at = "2026-12-01T00:00:00+08:00"
days_of_week = [6, 7]
multiplier = 2.0

[[campaigns]]
id = "happy-hour"
starts_at = "2025-01-01T00:00:00+08:00"
ends_at = "2026-11-01T00:00:00+08:00"
hours = ["14:00-17:00"]
bonus_points = 7

[tiers]
metric = "spend"
window = "calendar_year"
retain_months = 0

[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 50000

[expiry]
mode = "end_of_month"
months = 1
"""

def breakdown(answer):
    return {part["rule"]: part["points"] for part in answer["breakdown"]}


class LocalTimeOverHttp(unittest.TestCase):
    def setUp(self):
        self.server = Server(program_toml=PROGRAM).start()
        self.addCleanup(self.server.cleanup)

    def buy(self, event_id, member_id, occurred_at, amount=10000, store="s-1",
            category="beverage"):
        r = self.server.purchase(purchase_body(event_id, member_id,
                                               [line("latte", category, amount)],
                                               occurred_at=occurred_at, store_id=store))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_weekend_campaign_follows_each_stores_calendar(self):
        s = self.server
        self.assertEqual(s.signup("m-weekend").status, 201)
        # Saturday 01:30 in Shanghai (Friday in UTC): the weekend bonus.
        saturday = self.buy("sat-0130", "m-weekend", "2026-11-21T01:30:00+08:00")
        self.assertEqual(saturday["points_earned"], 200, saturday)
        self.assertEqual(breakdown(saturday)["campaign:double-weekend"], 100)
        # Monday 01:30 in Shanghai (Sunday in UTC): none.
        monday = self.buy("mon-0130", "m-weekend", "2026-11-23T01:30:00+08:00")
        self.assertEqual(monday["points_earned"], 100, monday)
        self.assertNotIn("campaign:double-weekend", breakdown(monday))
        # Friday 23:30 in London (Saturday 07:30 in Shanghai): London's Friday, none.
        london_friday = self.buy("lon-fri", "m-weekend", "2026-11-20T23:30:00Z", store="s-london")
        self.assertEqual(london_friday["points_earned"], 100, london_friday)
        # Sunday 23:30 in London (Monday in Shanghai): London's Sunday, the bonus.
        london_sunday = self.buy("lon-sun", "m-weekend", "2026-11-22T23:30:00+00:00",
                                 store="s-london")
        self.assertEqual(london_sunday["points_earned"], 200, london_sunday)
        # Times sent with an offset are stored and written back in UTC.
        r = s.request("GET", "/v1/members/m-weekend/ledger?limit=10", key=harness.APP_KEY)
        self.assertEqual(r.status, 200, r)
        times = {e["reference"]: e["at"] for e in r.json["entries"] if e["type"] == "earn"}
        self.assertEqual(times["sat-0130"], "2026-11-20T17:30:00Z")
        self.assertEqual(times["mon-0130"], "2026-11-22T17:30:00Z")
        # Replaying the same request with the same instant in another offset is the same event.
        again = s.purchase(purchase_body("sat-0130", "m-weekend", [line("latte", "beverage", 10000)],
                                         occurred_at="2026-11-20T17:30:00Z"))
        self.assertEqual(again.status, 200, again)
        self.assertTrue(again.json["replayed"], again)

    def test_campaign_hours_are_local_start_inclusive_end_exclusive(self):
        self.assertEqual(self.server.signup("m-hours").status, 201)
        cases = [("h-1359", "2026-10-14T13:59:59+08:00", 100),
                 ("h-1400", "2026-10-14T14:00:00+08:00", 107),
                 ("h-1659", "2026-10-14T16:59:59.999+08:00", 107),
                 ("h-1700", "2026-10-14T17:00:00+08:00", 100),
                 # 15:00 in London is 23:00 in Shanghai: the London store's own afternoon.
                 ("h-london", "2026-10-14T15:00:00+01:00", 107)]
        for event_id, occurred_at, points in cases:
            store = "s-london" if event_id == "h-london" else "s-1"
            answer = self.buy(event_id, "m-hours", occurred_at, store=store, category="food")
            self.assertEqual(answer["points_earned"], points, (event_id, answer))

    def test_calendar_year_tiers_turn_at_local_new_year(self):
        self.assertEqual(self.server.signup("m-year").status, 201)
        # 23:30 on 31 December and 00:30 on 1 January in Shanghai: both 2025 in UTC.
        self.buy("ny-1", "m-year", "2025-12-31T23:30:00+08:00", amount=30000, category="food")
        second = self.buy("ny-2", "m-year", "2026-01-01T00:30:00+08:00", amount=30000,
                          category="food")
        self.assertFalse(second["tier_changed"], "300.00 in each year, not 600.00 in one")
        self.assertEqual(second["tier"], "green")
        third = self.buy("ny-3", "m-year", "2026-01-01T09:00:00+08:00", amount=20000,
                         category="food")
        self.assertTrue(third["tier_changed"], third)
        self.assertEqual(third["tier"], "gold")

    def test_month_end_expiry_runs_at_local_midnight(self):
        s = self.server
        self.assertEqual(s.signup("m-expiry").status, 201)
        # 1 October 01:00 in Shanghai (30 September in UTC): earned in October, good through
        # November, so it expires at midnight Shanghai after 30 November.
        self.buy("exp-1", "m-expiry", "2026-10-01T01:00:00+08:00", category="food")
        before = run_job(s, {"type": "expire", "as_of": "2026-11-30T23:59:59.999+08:00"})
        self.assertEqual(before["state"], "succeeded", before)
        self.assertEqual(before["result"]["points_expired"], 0)
        self.assertEqual(s.member("m-expiry").json["balance"]["available"], 100)
        at_midnight = run_job(s, {"type": "expire", "as_of": "2026-12-01T00:00:00+08:00"})
        self.assertEqual(at_midnight["state"], "succeeded", at_midnight)
        self.assertEqual(at_midnight["result"]["points_expired"], 100)
        self.assertEqual(at_midnight["parameters"]["as_of"], "2026-11-30T16:00:00Z")
        self.assertEqual(s.member("m-expiry").json["balance"]["available"], 0)

    def test_recalculation_judges_history_in_its_programs_zone(self):
        s = self.server
        utc_program = PROGRAM.replace('time_zone = "Asia/Shanghai"', 'time_zone = "UTC"')
        r = s.request("PUT", "/v1/program", raw=utc_program.encode(),
                      headers={"Content-Type": "application/toml"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["time_zone"], "UTC")
        self.assertEqual(s.signup("m-recalc").status, 201)
        # Saturday 01:30 in Shanghai, but a Friday under the UTC version: no bonus.
        friday = self.buy("rc-1", "m-recalc", "2026-11-20T17:30:00Z")
        self.assertEqual(friday["points_earned"], 100, friday)
        # The Shanghai program re-run over that hour gives the weekend bonus.
        job = run_job(s, {"type": "recalculate", "program_toml": PROGRAM,
                          "from": "2026-11-20T17:00:00Z", "to": "2026-11-20T18:00:00Z"})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["result"]["events_examined"], 1)
        self.assertEqual(job["result"]["total_delta"], 100)
        # Activating the Shanghai version changes nothing already applied.
        r = s.request("PUT", "/v1/program", raw=PROGRAM.encode(),
                      headers={"Content-Type": "application/toml"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["time_zone"], "Asia/Shanghai")
        self.assertEqual(s.member("m-recalc").json["balance"]["available"], 100)
        saturday = self.buy("rc-2", "m-recalc", "2026-11-21T01:30:00+08:00")
        self.assertEqual(saturday["points_earned"], 200, saturday)
        # A recalculation under the stored UTC version (2) judges the same instant as a Friday:
        # rc-2 would lose its bonus, rc-1 stays as it is.
        job = run_job(s, {"type": "recalculate", "program_version": 2,
                          "from": "2026-11-20T17:00:00Z", "to": "2026-11-20T18:00:00Z"})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["result"]["events_examined"], 2)
        self.assertEqual(job["result"]["events_changed"], 1)
        self.assertEqual(job["result"]["total_delta"], -100)

    def test_bad_zones_and_hours_are_refused_naming_the_key(self):
        s = self.server
        cases = [
            (PROGRAM.replace('"Asia/Shanghai"', '"Asia/Atlantis"'), "program.time_zone"),
            (PROGRAM.replace('"Europe/London"', '"Europe/Londinium"'), "stores[0].time_zone"),
            (PROGRAM.replace('"14:00-17:00"', '"17:00-14:00"'), "campaigns[1].hours[0]"),
        ]
        for text, key in cases:
            for method, path in (("PUT", "/v1/program"), ("POST", "/v1/program:validate")):
                r = s.request(method, path, raw=text.encode(),
                              headers={"Content-Type": "application/toml"})
                self.assertEqual(r.status, 422, (key, r))
                self.assertEqual(r.json["errors"][0]["field"], key, r)
        r = s.request("GET", "/v1/program")
        self.assertEqual(r.json["time_zone"], "Asia/Shanghai", "nothing was activated")
        # loyaltyctl recalc refuses the file before it does anything.
        bad = os.path.join(s.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write(cases[0][0])
        done = ctl("recalc", "--server", f"http://127.0.0.1:{s.port}", "--key", ADMIN_KEY,
                   "--program", bad, "--from", "2026-01-01T00:00:00Z",
                   "--to", "2026-02-01T00:00:00Z", "--dry-run")
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("program.time_zone", done.stderr)
        # loyaltyd itself will not start on it: exit 2, the key in its message.
        s.stop()
        bad_server = Server(program_toml=cases[1][0])
        self.addCleanup(bad_server.cleanup)
        with self.assertRaises(RuntimeError):
            bad_server.start()
        self.assertEqual(bad_server.process.wait(timeout=30), 2)
        self.assertIn("stores[0].time_zone", bad_server.read_log())


class ShippedProgram(unittest.TestCase):
    """The README's curl example against the shipped coffee club, which runs in Shanghai."""

    def test_readme_purchase_earns_the_weekend_bonus_in_local_time(self):
        s = Server().start()
        self.addCleanup(s.cleanup)
        self.assertEqual(s.signup("m-42", phone="+8613800000042").status, 201)
        lattes = [line("latte-l", "beverage", 6400, quantity=2)]
        r = s.purchase(purchase_body("pos-17-000123", "m-42", lattes,
                                     occurred_at="2026-11-21T10:15:00+08:00"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_earned"], 192, r)
        self.assertEqual(breakdown(r.json), {"base": 64, "sku:latte-l": 32,
                                             "campaign:double-weekend": 96})
        # Saturday 01:30 in Shanghai is Friday in UTC and earns it; Monday 01:30 does not.
        r = s.purchase(purchase_body("pos-17-000124", "m-42", lattes,
                                     occurred_at="2026-11-21T01:30:00+08:00"))
        self.assertIn("campaign:double-weekend", breakdown(r.json))
        r = s.purchase(purchase_body("pos-17-000125", "m-42", lattes,
                                     occurred_at="2026-11-23T01:30:00+08:00"))
        self.assertNotIn("campaign:double-weekend", breakdown(r.json))
        self.assertEqual(s.request("GET", "/v1/program").json["time_zone"], "Asia/Shanghai")


class LocalTimeStats(unittest.TestCase):
    """loyaltyctl stats: the liability by the local month the points can last be spent in; and
    loyaltyctl replay of a local-time history."""

    def test_liability_months_are_local(self):
        program = PROGRAM.replace('mode = "end_of_month"\nmonths = 1',
                                  'mode = "days"\ndays = 1')
        s = Server(program_toml=program).start()
        self.addCleanup(s.cleanup)
        self.assertEqual(s.signup("m-stats").status, 201)
        # Expires 24 hours later: 1 December 02:00 in Shanghai, still 30 November in UTC.
        r = s.purchase(purchase_body("st-1", "m-stats", [line("x", "food", 10000)],
                                     occurred_at="2026-11-30T02:00:00+08:00"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.stop(), 0)
        done = ctl("stats", "--data", s.data_dir, "--json")
        self.assertEqual(done.returncode, 0, done)
        stats = json.loads(done.stdout)
        self.assertEqual(stats["liability_by_expiry_month"], {"2026-12": 100})
        # Replaying the event log under the stored (Shanghai) version gives the same state.
        done = ctl("replay", "--data", s.data_dir, "--into", os.path.join(s.dir, "replayed"),
                   "--json")
        self.assertEqual(done.returncode, 0, done)
        replay = json.loads(done.stdout)
        self.assertTrue(replay["ok"], replay)


if __name__ == "__main__":
    unittest.main()
