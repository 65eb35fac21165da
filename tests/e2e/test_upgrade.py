"""The upgrade path (issue 15): a data folder written by release c17681b (record layout 1,
tests/e2e/fixtures/layout1, made by fixtures/make_layout1.py with that release) is refused by
loyaltyd and loyaltyctl with a message that names `loyaltyctl migrate`; migrate rebuilds it
from its event log into this release's layout with the old release's state digest, members,
ledger and feed; the migrated folder serves and takes new events; a second migrate does
nothing."""
import asyncio
import datetime
import json
import os
import shutil
import tarfile
import tempfile
import unittest

import websockets

from harness import (APP_KEY, POS_KEY, Server, ctl, line, purchase_body)

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "layout1")


def now_text():
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def fixture_text(name):
    with open(os.path.join(FIXTURE, name)) as f:
        return f.read()


class Upgrade(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="loyalty-upgrade-")
        with tarfile.open(os.path.join(FIXTURE, "data.tar.gz")) as tar:
            tar.extractall(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.expected = json.loads(fixture_text("digest.json"))
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def server_on(self, data):
        server = Server(program_toml=fixture_text("program.toml"), extra_args=())
        server.data_dir = data
        self.servers.append(server)
        return server

    def test_an_old_folder_is_refused_with_what_to_do(self):
        server = self.server_on(self.data)
        with self.assertRaises(RuntimeError) as refused:
            server.start()
        self.assertIn("record layout 1", str(refused.exception))
        self.assertIn("loyaltyctl migrate --data", str(refused.exception))
        done = ctl("verify", "--data", self.data)
        self.assertEqual(done.returncode, 2, done)
        self.assertIn("loyaltyctl migrate", done.stderr)
        # Refusing changed nothing: the folder migrates afterwards (below, and in the next test).
        self.assertEqual(ctl("migrate", "--data", self.data).returncode, 0)

    def test_migrate_keeps_the_state_and_the_feed(self):
        done = ctl("migrate", "--data", self.data, "--json")
        self.assertEqual(done.returncode, 0, done)
        report = json.loads(done.stdout)
        self.assertEqual((report["from_layout"], report["ok"]), (1, True))
        self.assertGreater(report["layout"], 1)
        self.assertEqual(report["digest"], self.expected["digest"])
        self.assertEqual(report["members"], self.expected["members"])
        self.assertEqual(report["events"], len(fixture_text("events.ndjson").splitlines()))
        self.assertTrue(os.path.isdir(self.data + ".layout1"), "the old folder is kept")
        self.assertFalse(os.path.exists(self.data + ".migrating"))

        # What the old release exported is what this one exports from the migrated folder.
        for what in ("members", "ledger", "events"):
            exported = ctl("export", what, "--data", self.data)
            self.assertEqual(exported.returncode, 0, exported)
            self.assertEqual(exported.stdout, fixture_text(f"{what}.ndjson"), what)
        self.assertEqual(ctl("verify", "--data", self.data).returncode, 0)
        replay = ctl("replay", "--data", self.data, "--into", os.path.join(self.dir, "again"),
                     "--json")
        self.assertEqual(json.loads(replay.stdout)["digest"], self.expected["digest"])

        again = ctl("migrate", "--data", self.data, "--json")
        self.assertEqual(again.returncode, 0, again)
        self.assertTrue(json.loads(again.stdout)["unchanged"])

        # The migrated folder serves: balances as exported, the feed from the start, new events.
        server = self.server_on(self.data)
        s = server.start()
        members = {m["member_id"]: m for m in map(json.loads,
                                                  fixture_text("members.ndjson").splitlines())}
        bob = s.member("bob", key=APP_KEY)
        self.assertEqual(bob.status, 200, bob)
        self.assertEqual(bob.json["balance"]["available"], members["bob"]["available"])

        async def feed():
            uri = f"ws://127.0.0.1:{server.port}/v1/stream"
            async with websockets.connect(
                    uri, extra_headers={"Authorization": f"Bearer {APP_KEY}"}) as ws:
                await ws.send(json.dumps({"op": "subscribe", "member_id": "bob",
                                          "after_seq": 0}))
                subscribed = json.loads(await asyncio.wait_for(ws.recv(), 10))
                pushes = [json.loads(await asyncio.wait_for(ws.recv(), 10))
                          for _ in range(subscribed["seq"])]
                return subscribed, pushes

        subscribed, pushes = asyncio.run(feed())
        self.assertGreaterEqual(subscribed["seq"], 3)
        self.assertEqual([p["seq"] for p in pushes], list(range(1, subscribed["seq"] + 1)))
        earned = [p["reference"] for p in pushes if p["type"] == "points.earned"]
        self.assertEqual(earned[:2], ["o-3", "o-6"])

        r = s.purchase(purchase_body("o-new", "bob", [line("x", "food", 5000)],
                                     occurred_at=now_text()), key=POS_KEY)
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json["points_earned"], 0)
        self.assertEqual(server.stop(), 0)
        self.assertEqual(ctl("verify", "--data", self.data).returncode, 0)


if __name__ == "__main__":
    unittest.main()
