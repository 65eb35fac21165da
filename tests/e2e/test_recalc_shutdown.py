"""SIGTERM while loyaltyd runs a recalculation job over a year of imported history: the server
stops the job between members instead of finishing it first, exits 0 and logs the job as
interrupted; the next start resumes it, and in the end every changed purchase has exactly one
adjust entry and the books balance."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import unittest

from harness import LOYALTYCTL, SOURCE_DIR, Server, job_path

sys.path.insert(0, os.path.join(SOURCE_DIR, "bench", "ops"))
import ops_bench  # noqa: E402  (the benchmark's history generator)

EVENTS = 10_000
JOB_TIMEOUT = 300


def ctl(*args):
    return subprocess.run([LOYALTYCTL, *args], capture_output=True, text=True, timeout=600)


class RecalcShutdown(unittest.TestCase):
    def setUp(self):
        self.server = Server()  # the shipped server.toml and program.toml
        self.server.start()
        self.assertEqual(self.server.stop(), 0)  # seeds the program
        history = os.path.join(self.server.dir, "history.ndjson")
        ops_bench.generate(history, EVENTS, ops_bench.DEFAULT_SEED)
        done = ctl("import", history, "--data", self.server.data_dir, "--json")
        self.assertEqual(done.returncode, 0, done.stderr[-2000:])
        self.assertEqual(json.loads(done.stdout)["rejected"], 0)
        program = os.path.join(self.server.dir, "changed.toml")
        ops_bench.changed_program(program)
        with open(program) as f:
            self.program_toml = f.read()
        self.program_path = program

    def tearDown(self):
        self.server.cleanup()

    def wait_job(self, job_id):
        deadline = time.time() + JOB_TIMEOUT
        while time.time() < deadline:
            r = self.server.request("GET", job_path(job_id))
            self.assertEqual(r.status, 200, r)
            if r.json["state"] in ("succeeded", "failed"):
                return r.json
            time.sleep(0.05)
        self.fail(f"job {job_id} did not finish")

    def interrupt_mid_run(self):
        """Starts recalculations (the range's end 1 s later per attempt, so each is a new job)
        until one is seen running well before its end, and sends SIGTERM then."""
        start = ops_bench.HISTORY_START
        for attempt in range(6):
            end = start + datetime.timedelta(days=ops_bench.HISTORY_DAYS + 1, seconds=attempt)
            body = {"type": "recalculate", "program_toml": self.program_toml, "dry_run": False,
                    "from": ops_bench.rfc3339(start.timestamp()),
                    "to": ops_bench.rfc3339(end.timestamp())}
            r = self.server.request("POST", "/v1/jobs", body)
            self.assertEqual(r.status, 202, r)
            job_id = r.json["job_id"]
            deadline = time.time() + JOB_TIMEOUT
            while time.time() < deadline:
                r = self.server.request("GET", job_path(job_id))
                progress = r.json["progress"]
                if (r.json["state"] == "running" and
                        0 < progress["done"] < progress["total"] * 0.6):
                    code = self.server.stop(signal.SIGTERM)
                    self.assertEqual(code, 0, self.server.read_log()[-2000:])
                    return job_id, body
                if r.json["state"] in ("succeeded", "failed"):
                    break
                time.sleep(0.01)
        self.fail("the recalculation was never seen running")

    def dry_run_changes(self, body):
        done = ctl("recalc", "--program", self.program_path, "--from", body["from"], "--to",
                   body["to"], "--dry-run", "--data", self.server.data_dir, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)["events_changed"]

    def test_sigterm_interrupts_the_recalculation_and_the_next_start_finishes_it(self):
        self.server.start()
        job_id, body = self.interrupt_mid_run()
        log = self.server.read_log()
        self.assertIn(f"job {job_id}: interrupted at", log,
                      "the shutdown waited for the whole recalculation")
        self.assertNotIn(f"job {job_id}: succeeded", log)
        # What the new rules still change (the interrupted run may have adjusted some).
        still_to_do = self.dry_run_changes(body)
        self.assertGreater(still_to_do, 0)

        self.server.start()
        job = self.wait_job(job_id)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertEqual(job["resumed"], 1)
        self.assertEqual(job["runs"], 2)
        self.assertEqual(job["result"]["adjustments_failed"], 0)
        self.assertEqual(job["result"]["adjustments_applied"], still_to_do)
        self.assertEqual(self.server.stop(), 0)

        # Nothing is left to adjust, and no purchase was adjusted twice by the two runs.
        self.assertEqual(self.dry_run_changes(body), 0)
        exported = ctl("export", "ledger", "--data", self.server.data_dir)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        prefix = f"recalc:{job_id}:"
        references = [entry["reference"] for entry in map(json.loads,
                                                           exported.stdout.splitlines())
                      if entry["type"] == "adjust" and entry["reference"].startswith(prefix)]
        self.assertGreaterEqual(len(references), still_to_do)
        self.assertEqual(len(references), len(set(references)), "a purchase adjusted twice")
        verify = ctl("verify", "--data", self.server.data_dir, "--json")
        self.assertEqual(verify.returncode, 0, verify.stdout[-2000:])
        self.assertTrue(json.loads(verify.stdout)["ok"])


if __name__ == "__main__":
    unittest.main()
