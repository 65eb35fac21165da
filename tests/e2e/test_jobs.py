"""Operations on a running loyaltyd: jobs (POST /v1/jobs, GET /v1/jobs/{id}) through the live
engine, the program API (GET/PUT /v1/program, POST /v1/program:validate), schedules in
server.toml, and loyaltyctl --server. The real binary, real HTTP and WebSocket clients."""
import asyncio
import csv
import datetime
import io
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import http.client

import websockets

from harness import (ADMIN_KEY, APP_KEY, JOB_TIMEOUT, LOYALTYCTL, POS_KEY, SOURCE_DIR, Server,
                     job_path, line, post_job, purchase_body, run_job, wait_job)

PROGRAM = """
[program]
id = "jobs-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[tiers]
metric = "spend"
window_months = 1
retain_months = 1

[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 50000

[expiry]
mode = "days"
days = 30
"""

EXPIRY_DAYS = 30


def server_toml(extra=""):
    """The shipped server.toml without the per-key rate limit (tests sign up thousands), plus
    `extra` at the end."""
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    return text.replace("per_key_rps = 1000", "per_key_rps = 0") + "\n" + extra


def rfc3339(moment):
    text = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def whole_seconds(moment):
    return moment.replace(microsecond=0)


def ctl(*args):
    return subprocess.run([LOYALTYCTL, *args], capture_output=True, text=True, timeout=300)


def ledger(server, member_id):
    r = server.request("GET", f"/v1/members/{member_id}/ledger?limit=500", key=APP_KEY)
    assert r.status == 200, r
    return r.json["entries"]


def signup_many(server, prefix, count, threads=8):
    """Signs up `count` members over a few keep-alive connections at once."""
    failures = []

    def work(first):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        for i in range(first, count, threads):
            conn.request("POST", "/v1/members",
                         body=json.dumps({"member_id": f"{prefix}{i:05d}"}),
                         headers={"Authorization": f"Bearer {APP_KEY}",
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                failures.append(r.status)
        conn.close()

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures[:5]


def purchase_many(server, prefix, count, occurred_at, amount):
    """One purchase per member through POST /v1/events:batch, 1,000 at a time."""
    for start in range(0, count, 1000):
        batch = [{"type": "purchase", **purchase_body(
            f"buy-{prefix}{i:05d}", f"{prefix}{i:05d}", [line("x", "food", amount)],
            occurred_at=occurred_at)} for i in range(start, min(count, start + 1000))]
        r = server.request("POST", "/v1/events:batch", batch, key=POS_KEY)
        assert r.status == 200, r
        assert all(item["status"] == 200 for item in r.json["results"]), r.json["results"][:3]


class ExpiryJobs(unittest.TestCase):
    """The expiry job's boundary, idempotency and notifications, alone on a server so that the
    job's totals are this test's."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(), program_toml=PROGRAM).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def test_expire_at_the_lot_expiry_instant_once_with_a_push(self):
        s = self.server
        self.assertEqual(s.signup("exp-1").status, 201)
        earned_at = whole_seconds(utc_now() - datetime.timedelta(days=60))
        r = s.purchase(purchase_body("exp-buy-1", "exp-1", [line("x", "food", 10000)],
                                     occurred_at=rfc3339(earned_at)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["points_earned"], 100)
        expires_at = earned_at + datetime.timedelta(days=EXPIRY_DAYS)

        # 1 ms before the lot's expires_at it is still good (a lot expires when as_of reaches
        # expires_at, engine/lots.cpp).
        before = run_job(s, {"type": "expire",
                             "as_of": rfc3339(expires_at - datetime.timedelta(milliseconds=1))})
        self.assertEqual(before["state"], "succeeded", before)
        self.assertEqual(before["result"]["points_expired"], 0)
        self.assertEqual(s.member("exp-1").json["balance"]["available"], 100)

        async def scenario():
            uri = f"ws://127.0.0.1:{s.port}/v1/stream"
            async with websockets.connect(
                    uri, extra_headers={"Authorization": f"Bearer {APP_KEY}"}) as ws:
                await ws.send(json.dumps({"op": "subscribe", "member_id": "exp-1"}))
                subscribed = json.loads(await asyncio.wait_for(ws.recv(), 15))
                self.assertEqual(subscribed["op"], "subscribed")
                job = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: run_job(s, {"type": "expire", "as_of": rfc3339(expires_at)}))
                push = json.loads(await asyncio.wait_for(ws.recv(), 15))
                return job, push

        at_expiry, push = asyncio.run(asyncio.wait_for(scenario(), 60))
        self.assertEqual(at_expiry["state"], "succeeded", at_expiry)
        self.assertEqual(at_expiry["result"]["points_expired"], 100)
        self.assertEqual(at_expiry["result"]["members"], 1)
        self.assertEqual(push["type"], "points.expired")
        self.assertEqual(push["member_id"], "exp-1")
        self.assertEqual(push["points"], -100)
        self.assertEqual(s.member("exp-1").json["balance"]["available"], 0)
        expiries = [e for e in ledger(s, "exp-1") if e["type"] == "expire"]
        self.assertEqual([e["points"] for e in expiries], [-100])

        # The same job again is that job: 202, not a second run.
        again = post_job(s, {"type": "expire", "as_of": rfc3339(expires_at)})
        self.assertEqual(again.status, 202, again)
        self.assertEqual(again.json["job_id"], at_expiry["job_id"])
        self.assertEqual(again.json["state"], "succeeded")
        self.assertEqual(again.json["runs"], 1)
        self.assertEqual(wait_job(s, at_expiry["job_id"])["runs"], 1)
        # A later job finds nothing more to expire.
        later = run_job(s, {"type": "expire",
                            "as_of": rfc3339(expires_at + datetime.timedelta(seconds=1))})
        self.assertEqual(later["result"]["points_expired"], 0)
        self.assertEqual(len([e for e in ledger(s, "exp-1") if e["type"] == "expire"]), 1)


class JobsApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(), program_toml=PROGRAM).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def test_job_document_shape_and_refusals(self):
        s = self.server
        as_of = rfc3339(whole_seconds(utc_now() - datetime.timedelta(days=400)))
        r = post_job(s, {"type": "evaluate_tiers", "as_of": as_of})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.headers["Location"], job_path(r.json["job_id"]))
        self.assertEqual(r.json["job_id"], "evaluate-tiers:" + as_of.replace(".000Z", "Z"))
        job = wait_job(s, r.json["job_id"])
        self.assertEqual(set(job), {"job_id", "type", "state", "parameters", "progress",
                                    "created_at", "started_at", "finished_at", "runs",
                                    "resumed", "requested_by", "result", "error",
                                    "csv_available"})
        self.assertEqual(job["type"], "evaluate_tiers")
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(job["parameters"], {"as_of": as_of.replace(".000Z", "Z")})
        self.assertEqual(set(job["progress"]), {"done", "total", "rate_per_second", "eta_seconds"})
        self.assertEqual(job["progress"]["done"], job["progress"]["total"])
        self.assertIsNone(job["progress"]["eta_seconds"])
        self.assertEqual(job["requested_by"], "dev-admin")
        self.assertIsNone(job["error"])
        self.assertEqual(set(job["result"]), {"job_id", "members", "points_expired",
                                              "tier_changes", "already_done", "failed"})
        self.assertLessEqual(job["created_at"], job["started_at"])
        self.assertLessEqual(job["started_at"], job["finished_at"])

        # Admin only; strict bodies; as_of not in the future.
        self.assertEqual(post_job(s, {"type": "expire", "as_of": as_of}, key=POS_KEY).status, 403)
        self.assertEqual(s.request("GET", job_path(job["job_id"]), key=APP_KEY).status, 403)
        self.assertEqual(post_job(s, {"type": "expire", "as_of": as_of}, key=None).status, 401)
        for body, field, status in [
                ({"type": "sweep", "as_of": as_of}, "type", 400),
                ({"type": "expire"}, "as_of", 400),
                ({"type": "expire", "as_of": "soon"}, "as_of", 400),
                ({"type": "expire", "as_of": as_of, "dry_run": True}, "dry_run", 400),
                ({"type": "expire", "as_of": rfc3339(utc_now() + datetime.timedelta(hours=1))},
                 "as_of", 422),
                ({"type": "recalculate", "from": as_of, "to": as_of, "program_version": 1},
                 "to", 422),
                ({"type": "recalculate", "from": as_of, "to": rfc3339(utc_now())},
                 "program_toml", 400),
                ({"type": "recalculate", "from": as_of, "to": rfc3339(utc_now()),
                  "program_version": 99}, "program_version", 422),
                ({"type": "recalculate", "from": as_of, "to": rfc3339(utc_now()),
                  "program_toml": PROGRAM.replace("unit_minor = 100", "unit_minor = 0")},
                 "program_toml", 422)]:
            r = post_job(s, body)
            self.assertEqual(r.status, status, (body, r))
            self.assertEqual(r.json["errors"][0]["field"], field, (body, r))
        r = post_job(s, {"type": "recalculate", "from": as_of, "to": rfc3339(utc_now()),
                         "program_toml": PROGRAM.replace("unit_minor = 100", "unit_minor = 0")})
        self.assertIn("earning.unit_minor", r.json["detail"])
        r = s.request("GET", job_path("expire:2001-01-01T00:00:00Z"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json["errors"][0]["field"], "job_id")
        r = s.request("GET", job_path(job["job_id"]), headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 406, r)

    def test_the_job_list_is_newest_first_filtered_and_paged(self):
        s = self.server
        base = whole_seconds(utc_now() - datetime.timedelta(days=300))
        ids = []
        for n, kind in enumerate(("expire", "evaluate_tiers", "expire")):
            r = post_job(s, {"type": kind, "as_of": rfc3339(base + datetime.timedelta(hours=n))})
            self.assertEqual(r.status, 202, r)
            ids.append(wait_job(s, r.json["job_id"])["job_id"])
        everything = s.request("GET", "/v1/jobs?limit=100")
        self.assertEqual(everything.status, 200, everything)
        listed = everything.json["jobs"]
        self.assertIsNone(everything.json["next_cursor"])
        created = [job["created_at"] for job in listed]
        self.assertEqual(created, sorted(created, reverse=True), "newest first")
        mine = [job["job_id"] for job in listed if job["job_id"] in ids]
        self.assertEqual(mine, list(reversed(ids)))
        self.assertEqual(listed[0], s.request("GET", job_path(listed[0]["job_id"])).json | {
            "progress": listed[0]["progress"]})
        # A page at a time, without gaps or repeats.
        paged, cursor = [], None
        for _ in range(len(listed) + 1):
            r = s.request("GET", "/v1/jobs?limit=1" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(r.status, 200, r)
            paged += [job["job_id"] for job in r.json["jobs"]]
            cursor = r.json["next_cursor"]
            if cursor is None:
                break
        self.assertEqual(paged, [job["job_id"] for job in listed])
        only = s.request("GET", "/v1/jobs?type=evaluate_tiers&state=succeeded").json["jobs"]
        self.assertIn(ids[1], [job["job_id"] for job in only])
        self.assertEqual({(job["type"], job["state"]) for job in only},
                         {("evaluate_tiers", "succeeded")})
        self.assertEqual(s.request("GET", "/v1/jobs?state=running").json["jobs"], [])
        for query, field in (("state=done", "state"), ("type=sweep", "type"),
                             ("limit=0", "limit"), ("cursor=nope", "cursor"), ("x=1", "x")):
            r = s.request("GET", f"/v1/jobs?{query}")
            self.assertEqual(r.status, 400, (query, r))
            self.assertEqual(r.json["errors"][0]["field"], field, query)
        self.assertEqual(s.request("GET", "/v1/jobs", key=POS_KEY).status, 403)

    def test_evaluate_tiers_lowers_after_retain_months(self):
        s = self.server
        self.assertEqual(s.signup("tier-1").status, 201)
        bought_at = whole_seconds(utc_now() - datetime.timedelta(days=75))
        r = s.purchase(purchase_body("tier-buy-1", "tier-1", [line("x", "food", 60000)],
                                     occurred_at=rfc3339(bought_at)))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["tier"], "gold")
        # Within retain_months (one month) of reaching gold the member keeps it, whatever the
        # spend of the window.
        early = run_job(s, {"type": "evaluate_tiers",
                            "as_of": rfc3339(bought_at + datetime.timedelta(days=20))})
        self.assertEqual(early["state"], "succeeded", early)
        self.assertEqual(s.member("tier-1").json["tier"], "gold")
        job = run_job(s, {"type": "evaluate_tiers", "as_of": rfc3339(whole_seconds(utc_now()))})
        self.assertEqual(job["state"], "succeeded", job)
        self.assertGreaterEqual(job["result"]["tier_changes"], 1)
        self.assertEqual(s.member("tier-1").json["tier"], "green")
        changes = [e for e in ledger(s, "tier-1") if e["type"] == "tier_change"]
        self.assertEqual(len(changes), 2, changes)  # up with the purchase, down by the job
        self.assertEqual(changes[0]["points"], 0)

    def test_program_api_activates_without_restart(self):
        s = self.server
        r = s.request("GET", "/v1/program", key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        first = r.json
        self.assertEqual(first["program_id"], "jobs-club")
        self.assertEqual(first["label"], f"jobs-club@{first['version']}")
        self.assertEqual(first["source_toml"], PROGRAM)
        self.assertEqual(s.signup("prog-1").status, 201)
        r = s.purchase(purchase_body("prog-buy-1", "prog-1", [line("x", "food", 1000)]))
        self.assertEqual(r.json["points_earned"], 10)

        doubled = PROGRAM.replace("points_per_unit = 1", "points_per_unit = 2")
        toml = {"Content-Type": "application/toml"}
        # Refusals change nothing.
        r = s.request("PUT", "/v1/program", raw=doubled.encode(), headers=toml, key=POS_KEY)
        self.assertEqual(r.status, 403, r)
        bad = doubled.replace('threshold = 50000', 'threshold = -5')
        r = s.request("PUT", "/v1/program", raw=bad.encode(), headers=toml)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["code"], "invalid_request")
        self.assertEqual(r.json["errors"][0]["field"], "tiers.levels[1].threshold")
        r = s.request("PUT", "/v1/program", raw=b"[program\nid = 1", headers=toml)
        self.assertEqual(r.status, 400, r)
        r = s.request("PUT", "/v1/program", raw=doubled.encode(),
                      headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 415, r)
        r = s.request("POST", "/v1/program:validate", raw=doubled.encode(),
                      headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["valid"])
        r = s.request("POST", "/v1/program:validate", raw=bad.encode(), headers=toml)
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.json["errors"][0]["field"], "tiers.levels[1].threshold")
        self.assertEqual(s.request("GET", "/v1/program").json["version"], first["version"])

        r = s.request("PUT", "/v1/program", raw=doubled.encode(), headers=toml)
        self.assertEqual(r.status, 200, r)
        second = r.json
        self.assertGreater(second["version"], first["version"])
        self.assertEqual(second["label"], f"jobs-club@{second['version']}")
        self.assertEqual(s.request("GET", "/v1/program", key=APP_KEY).json["version"],
                         second["version"])
        # No restart: the next purchase earns under the new rules, and its ledger entry says so.
        r = s.purchase(purchase_body("prog-buy-2", "prog-1", [line("x", "food", 1000)]))
        self.assertEqual(r.json["points_earned"], 20)
        entries = {e["reference"]: e for e in ledger(s, "prog-1") if e["type"] == "earn"}
        self.assertEqual(entries["prog-buy-1"]["program_version"], first["version"])
        self.assertEqual(entries["prog-buy-2"]["program_version"], second["version"])
        self.assertEqual(s.member("prog-1").json["program_version"], second["label"])
        # The same text again is the same version.
        r = s.request("PUT", "/v1/program", raw=doubled.encode(), headers=toml)
        self.assertEqual(r.json["version"], second["version"])
        # Back to the first text: its version again, active after a restart too.
        r = s.request("PUT", "/v1/program", raw=PROGRAM.encode(), headers=toml)
        self.assertEqual(r.json["version"], first["version"])
        s.restart()
        self.assertEqual(s.request("GET", "/v1/program").json["version"], first["version"])
        r = s.purchase(purchase_body("prog-buy-3", "prog-1", [line("x", "food", 1000)]))
        self.assertEqual(r.json["points_earned"], 10)

        # The history: every version once, oldest first, the active one marked; each with its
        # text by number, so two can be shown side by side.
        r = s.request("GET", "/v1/program/versions")
        self.assertEqual(r.status, 200, r)
        listed = {v["version"]: v for v in r.json["versions"]}
        self.assertEqual([v["version"] for v in r.json["versions"]], sorted(listed))
        self.assertIn(first["version"], listed)
        self.assertIn(second["version"], listed)
        self.assertEqual([n for n, v in listed.items() if v["active"]], [first["version"]])
        self.assertNotIn("source_toml", listed[second["version"]])
        self.assertEqual(listed[second["version"]]["label"], second["label"])
        r = s.request("GET", f"/v1/program/versions/{second['version']}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["source_toml"], doubled)
        self.assertFalse(r.json["active"])
        r = s.request("GET", f"/v1/program/versions/{first['version']}")
        self.assertEqual((r.json["source_toml"], r.json["active"]), (PROGRAM, True))
        self.assertEqual(s.request("GET", "/v1/program/versions/999").status, 404)
        r = s.request("GET", "/v1/program/versions/two")
        self.assertEqual((r.status, r.json["errors"][0]["field"]), (400, "version"), r)
        self.assertEqual(s.request("GET", "/v1/program/versions", key=POS_KEY).status, 403)

    def test_recalculation_dry_run_reports_json_and_csv(self):
        s = self.server
        self.assertEqual(s.signup("recalc-1").status, 201)
        bought_at = whole_seconds(utc_now() - datetime.timedelta(days=10, hours=7))
        r = s.purchase(purchase_body("recalc-buy-1", "recalc-1", [line("x", "food", 5000)],
                                     occurred_at=rfc3339(bought_at)))
        self.assertEqual(r.json["points_earned"], 50)
        tripled = PROGRAM.replace("points_per_unit = 1", "points_per_unit = 3")
        # The range holds this purchase only.
        body = {"type": "recalculate", "program_toml": tripled,
                "from": rfc3339(bought_at),
                "to": rfc3339(bought_at + datetime.timedelta(seconds=1))}
        job = run_job(s, body)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertTrue(job["job_id"].startswith("recalc-"), job)
        self.assertTrue(job["job_id"].endswith("-dry-run"), job)
        self.assertTrue(job["parameters"]["dry_run"])
        report = job["result"]
        self.assertEqual(report["mode"], "dry_run")
        self.assertEqual(report["events_examined"], 1)
        self.assertEqual(report["events_changed"], 1)
        self.assertEqual(report["total_delta"], 100)
        self.assertTrue(job["csv_available"])
        r = s.request("GET", job_path(job["job_id"]), headers={"Accept": "text/csv"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(r.body)))
        self.assertEqual([(row["event_id"], row["delta"]) for row in rows],
                         [("recalc-buy-1", "100")])
        # A dry run changes nothing.
        self.assertEqual(s.member("recalc-1").json["balance"]["available"], 50)
        # The dry run is not the apply: dry_run false is another job.
        applied = run_job(s, {**body, "dry_run": False})
        self.assertNotEqual(applied["job_id"], job["job_id"])
        self.assertEqual(applied["state"], "succeeded", applied)
        self.assertIsNotNone(applied["parameters"]["program_version"])
        self.assertEqual(s.member("recalc-1").json["balance"]["available"], 150)
        again = run_job(s, {**body, "dry_run": False})
        self.assertEqual(again["job_id"], applied["job_id"])
        self.assertEqual(s.member("recalc-1").json["balance"]["available"], 150)

    def test_loyaltyctl_server_mode(self):
        s = self.server
        url = f"http://127.0.0.1:{s.port}"
        as_of = "2020-01-01T00:00:00Z"
        done = ctl("expire", "--server", url, "--key", ADMIN_KEY, "--as-of", as_of, "--json")
        self.assertEqual(done.returncode, 0, done)
        job = json.loads(done.stdout)
        self.assertEqual(job["job_id"], "expire:" + as_of)
        self.assertEqual(job["state"], "succeeded")
        self.assertEqual(job["result"]["failed"], 0)
        done = ctl("tiers", "evaluate", "--server", url, "--key", ADMIN_KEY, "--as-of", as_of)
        self.assertEqual(done.returncode, 0, done)
        self.assertIn("evaluate-tiers:" + as_of, done.stdout)
        # Refusals: a key that may not run jobs, a time in the future (4xx: exit 2).
        done = ctl("expire", "--server", url, "--key", POS_KEY, "--as-of", as_of)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("403", done.stderr)
        done = ctl("expire", "--server", url, "--key", ADMIN_KEY, "--as-of",
                   rfc3339(utc_now() + datetime.timedelta(days=1)))
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("as_of", done.stderr)
        # Bad usage: exit 2 before anything is sent.
        for args in [("--server", url, "--as-of", as_of),
                     ("--server", url, "--key", ADMIN_KEY, "--data", "/tmp", "--as-of", as_of),
                     ("--server", "ftp://x", "--key", ADMIN_KEY, "--as-of", as_of),
                     ("--server", url, "--key", ADMIN_KEY, "--as-of", "soon")]:
            self.assertEqual(ctl("expire", *args).returncode, 2, args)
        # No server there: exit 1.
        done = ctl("expire", "--server", "http://127.0.0.1:1", "--key", ADMIN_KEY,
                   "--as-of", as_of)
        self.assertEqual(done.returncode, 1, done)
        # recalc --server: a dry run with the report files.
        report = os.path.join(s.dir, "report")
        done = ctl("recalc", "--server", url, "--key", ADMIN_KEY, "--program", s.program,
                   "--from", "2020-01-01T00:00:00Z", "--to", "2020-02-01T00:00:00Z",
                   "--dry-run", "--report", report)
        self.assertEqual(done.returncode, 0, done)
        with open(report + ".json") as f:
            self.assertEqual(json.load(f)["mode"], "dry_run")
        with open(report + ".csv") as f:
            self.assertTrue(f.readline().startswith("job_id,member_id,event_id"))
        bad_program = os.path.join(s.dir, "bad.toml")
        with open(bad_program, "w") as f:
            f.write(PROGRAM.replace("unit_minor = 100", "unit_minor = 0"))
        done = ctl("recalc", "--server", url, "--key", ADMIN_KEY, "--program", bad_program,
                   "--from", "2020-01-01T00:00:00Z", "--to", "2020-02-01T00:00:00Z", "--dry-run")
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("earning.unit_minor", done.stderr)


class Recovery(unittest.TestCase):
    """A job interrupted by SIGKILL or SIGTERM resumes at the next start and ends with every
    member's step applied exactly once; schedules catch up what was missed while the server was
    down."""

    MEMBERS = 5000

    def interrupt_mid_run(self, s, as_of, sig, expect_exit=None):
        """Starts expire jobs as of `as_of` (+1 ms per attempt, so each is a new job) until
        one is seen running with most of its steps still to do, and sends `sig` then. The job
        takes a fraction of a second, so the poll may miss it: then the next attempt tries
        again."""
        for attempt in range(8):
            job_id = post_job(s, {"type": "expire", "as_of": rfc3339(
                as_of + datetime.timedelta(milliseconds=attempt))}).json["job_id"]
            deadline = time.time() + JOB_TIMEOUT
            while time.time() < deadline:
                r = s.request("GET", job_path(job_id))
                progress = r.json["progress"]
                # Well before the end, so that the signal lands while steps remain.
                if (r.json["state"] == "running" and
                        0 < progress["done"] < progress["total"] * 0.6):
                    code = s.stop(sig)
                    if expect_exit is not None:
                        self.assertEqual(code, expect_exit, s.read_log()[-2000:])
                    return job_id, progress["done"]
                if r.json["state"] in ("succeeded", "failed"):
                    break
        self.fail("the job was never seen running")

    def test_job_killed_mid_run_resumes_and_each_step_applies_once(self):
        s = Server(server_toml=server_toml(), program_toml=PROGRAM)
        try:
            s.start()
            signup_many(s, "k-", self.MEMBERS)
            earned_at = whole_seconds(utc_now() - datetime.timedelta(days=60))
            purchase_many(s, "k-", self.MEMBERS, rfc3339(earned_at), 1000)
            as_of = earned_at + datetime.timedelta(days=EXPIRY_DAYS)
            job_id, done_before_kill = self.interrupt_mid_run(s, as_of, signal.SIGKILL)
            s.start()
            job = wait_job(s, job_id)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["resumed"], 1)
            self.assertEqual(job["runs"], 2)
            result = job["result"]
            self.assertEqual(result["members"], self.MEMBERS)
            self.assertEqual(result["failed"], 0)
            # Steps answered before the kill were durable: the second run found them done.
            self.assertGreaterEqual(result["already_done"], done_before_kill)

            # SIGTERM: the job stops between steps, the server exits 0, the next start resumes.
            later = as_of + datetime.timedelta(seconds=1)
            job_id, _ = self.interrupt_mid_run(s, later, signal.SIGTERM, expect_exit=0)
            self.assertIn(f"job {job_id}: interrupted at", s.read_log())
            s.start()
            job = wait_job(s, job_id)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["resumed"], 1)
            self.assertEqual(job["result"]["members"], self.MEMBERS)
            self.assertEqual(s.stop(), 0)
            entries = [json.loads(row) for row in
                       ctl("export", "ledger", "--data", s.data_dir).stdout.splitlines()]
            expiries = {}
            for entry in entries:
                if entry["type"] == "expire":
                    expiries.setdefault(entry["member_id"], []).append(entry["points"])
            self.assertEqual(len(expiries), self.MEMBERS)
            self.assertTrue(all(points == [-10] for points in expiries.values()),
                            [p for p in expiries.values() if p != [-10]][:5])
            verify = ctl("verify", "--data", s.data_dir, "--json")
            self.assertEqual(verify.returncode, 0, verify)
            self.assertTrue(json.loads(verify.stdout)["ok"])
        finally:
            s.cleanup()

    def test_schedule_catches_up_the_missed_instant_once(self):
        s = Server(server_toml=server_toml(), program_toml=PROGRAM)
        try:
            s.start()
            self.assertEqual(s.signup("sched-1").status, 201)
            earned_at = whole_seconds(utc_now() - datetime.timedelta(days=45))
            r = s.purchase(purchase_body("sched-buy-1", "sched-1", [line("x", "food", 2000)],
                                         occurred_at=rfc3339(earned_at)))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(s.stop(), 0)
            # Restarted with a daily 00:00 expiry: the server was not running at today's 00:00,
            # so the start catches that instant up (the lot expired 15 days ago).
            with open(s.config, "w") as f:
                f.write(server_toml('[[schedules]]\njob = "expire"\nevery = "day"\n'
                                    'at = "00:00"\n'))
            s.start()
            job_id = "expire:" + utc_now().strftime("%Y-%m-%dT00:00:00Z")
            job = wait_job(s, job_id)
            self.assertEqual(job["state"], "succeeded", job)
            self.assertEqual(job["requested_by"], "schedule")
            self.assertEqual(job["result"]["points_expired"], 20)
            self.assertEqual(s.member("sched-1").json["balance"]["available"], 0)
            self.assertIn("schedule: expire every day at 00:00 UTC", s.read_log())
            # Started again the same day: that instant has succeeded, so it is not run again.
            s.restart()
            r = s.request("GET", job_path(job_id))
            self.assertEqual(r.json["runs"], 1, r)
            self.assertEqual(r.json["state"], "succeeded", r)
            # A schedule that does not read is a bad configuration: exit 2 naming the key.
            self.assertEqual(s.stop(), 0)
            with open(s.config, "w") as f:
                f.write(server_toml('[[schedules]]\njob = "expire"\nevery = "week"\n'
                                    'at = "00:00"\n'))
            done = subprocess.run([os.environ.get("LOYALTYD", ""), "--config", s.config,
                                   "--data", s.data_dir], capture_output=True, text=True,
                                  timeout=60)
            self.assertEqual(done.returncode, 2, done)
            self.assertIn("schedules[0].every", done.stderr)
        finally:
            s.cleanup()


class ServerModeOverTls(unittest.TestCase):
    """loyaltyctl --server https://: the server's certificate is verified (--cacert for a
    private CA) and its name checked."""

    def test_expire_over_https(self):
        folder = tempfile.mkdtemp(prefix="loyalty-jobs-tls-")
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days",
             "2", "-subj", "/CN=loyalty-jobs", "-addext",
             "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
        s = Server(server_toml=server_toml(
            f"[tls]\ncert_file = {json.dumps(cert)}\nkey_file = {json.dumps(key)}\n"),
            program_toml=PROGRAM)
        try:
            s.start()
            as_of = "2020-01-01T00:00:00Z"
            for host in ("127.0.0.1", "localhost"):
                done = ctl("expire", "--server", f"https://{host}:{s.port}", "--key", ADMIN_KEY,
                           "--cacert", cert, "--as-of", as_of, "--json")
                self.assertEqual(done.returncode, 0, done)
                self.assertEqual(json.loads(done.stdout)["state"], "succeeded")
            # Not trusted without the CA; plain HTTP to a TLS port gets no answer.
            done = ctl("expire", "--server", f"https://127.0.0.1:{s.port}", "--key", ADMIN_KEY,
                       "--as-of", as_of)
            self.assertEqual(done.returncode, 1, done)
            self.assertIn("--cacert", done.stderr)
            done = ctl("expire", "--server", f"http://127.0.0.1:{s.port}", "--key", ADMIN_KEY,
                       "--as-of", as_of)
            self.assertEqual(done.returncode, 1, done)
            self.assertEqual(ctl("expire", "--server", f"http://127.0.0.1:{s.port}", "--key",
                                 ADMIN_KEY, "--cacert", cert, "--as-of", as_of).returncode, 2)
        finally:
            s.cleanup()
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
