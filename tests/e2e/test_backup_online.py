"""Online backups (api.md "POST /v1/backups"): a backup taken while tills keep posting purchases,
restored offline, passes verify and holds every purchase acknowledged before the backup was
asked for; `loyaltyctl backup --server` drives the same; bad requests name the field."""
import json
import os
import threading
import time
import unittest

import harness
from harness import ADMIN_KEY, POS_KEY, ctl, line, purchase_body


class OnlineBackupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()
        for i in range(20):
            assert cls.server.signup(f"b-{i}").status == 201

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def wait_for(self, job_id, seconds=60):
        deadline = time.time() + seconds
        while True:
            job = self.server.request("GET", f"/v1/jobs/{job_id}")
            self.assertEqual(job.status, 200, job)
            if job.json["state"] in ("succeeded", "failed"):
                return job.json
            self.assertLess(time.time(), deadline, job.json)
            time.sleep(0.05)

    def test_a_backup_under_load_restores_every_acknowledged_purchase(self):
        acknowledged = []  # (event id, when its answer came)
        stop = threading.Event()

        def till(n):
            i = 0
            while not stop.is_set():
                event_id = f"load-{n}-{i}"
                answer = self.server.purchase(purchase_body(
                    event_id, f"b-{(n * 7 + i) % 20}", [line("a", "food", 1200)]))
                self.assertEqual(answer.status, 200, answer)
                acknowledged.append((event_id, time.monotonic()))
                i += 1

        tills = [threading.Thread(target=till, args=(n,)) for n in range(4)]
        for t in tills:
            t.start()
        time.sleep(1.0)  # a few hundred purchases before the backup is asked for
        backups = os.path.join(self.server.dir, "online-backups")
        asked_at = time.monotonic()
        posted = self.server.request("POST", "/v1/backups", {"to": backups})
        self.assertEqual(posted.status, 202, posted)
        self.assertEqual(posted.json["type"], "backup")
        self.assertEqual(posted.json["parameters"]["to"], backups)
        self.assertEqual(posted.headers["Location"], f"/v1/jobs/{posted.json['job_id']}")
        job = self.wait_for(posted.json["job_id"])
        time.sleep(0.5)  # and purchases after it
        stop.set()
        for t in tills:
            t.join(30)
        self.assertEqual(job["state"], "succeeded", job)
        self.assertTrue(job["result"]["verified"])
        self.assertGreater(job["result"]["files"], 0)
        before = {event_id for event_id, at in acknowledged if at < asked_at}
        self.assertGreater(len(before), 50, "the tills were busy before the backup")

        restored = os.path.join(self.server.dir, "restored-online")
        done = ctl("restore", "--from", backups, "--data", restored, "--json")
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)  # restore runs verify
        self.assertTrue(json.loads(done.stdout)["ok"])
        exported = ctl("export", "events", "--data", restored)
        self.assertEqual(exported.returncode, 0, exported.stderr)
        in_backup = {json.loads(row).get("event_id") for row in exported.stdout.splitlines()}
        missing = before - in_backup
        self.assertEqual(missing, set(), f"{len(missing)} acknowledged purchases missing")
        print(f"\nonline backup: {len(acknowledged)} purchases during the test, {len(before)} "
              f"acknowledged before the backup was asked for, all restored", flush=True)

    def test_loyaltyctl_backup_server_drives_it(self):
        backups = os.path.join(self.server.dir, "ctl-backups")
        base = f"http://127.0.0.1:{self.server.port}"
        done = ctl("backup", "--server", base, "--key", ADMIN_KEY, "--to", backups)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("verified", done.stdout)
        done = ctl("backup", "--server", base, "--key", ADMIN_KEY, "--to", backups, "--json")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(json.loads(done.stdout)["result"]["backup_id"], 2, "incremental: a 2nd")
        # A folder the server cannot write: the job fails and says why; loyaltyctl exits 1.
        done = ctl("backup", "--server", base, "--key", ADMIN_KEY, "--to", "/proc/no-backups")
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        self.assertIn("failed", done.stderr)
        self.assertEqual(ctl("backup", "--server", base, "--key", POS_KEY).returncode, 2,
                         "a pos key may not")
        self.assertEqual(ctl("backup", "--data", self.server.data_dir).returncode, 2,
                         "offline, --to is required")

    def test_bad_requests_name_the_field_and_change_nothing(self):
        for body, field in (({"to": 3}, "to"), ({"to": ""}, "to"), ({"into": "x"}, "into")):
            answer = self.server.request("POST", "/v1/backups", body)
            self.assertEqual(answer.status, 400, answer)
            self.assertEqual(answer.json["errors"][0]["field"], field, answer.json)
        self.assertEqual(self.server.request("POST", "/v1/backups", {}, key=POS_KEY).status, 403)
        self.assertEqual(self.server.request("GET", "/v1/jobs/backup-1-1").status, 404)


if __name__ == "__main__":
    unittest.main()
