"""Cluster mode end to end: scripts/cluster.sh starts three NATS servers, etcd and three
loyaltyd nodes on loopback; clients send writes to any node; a node is killed and started
again; afterwards every node's data folder passes `loyaltyctl verify`.
(The Jepsen-style nemesis test of issue 16 builds on this; see docs/decisions.md.)"""
import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402  (the HTTP helpers of the end-to-end tests)
import websockets  # noqa: E402
from test_member_admin import files_holding  # noqa: E402  (an erasure's byte scan)
from test_security import member_token  # noqa: E402
from test_webhooks import Receiver, expected_messages, wait_for  # noqa: E402

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "cluster.sh")
PARTITIONS = 8
LEASE_SECONDS = 5
STORE_KEY = "till-s2-key"  # a POS key of store s-2 only (setUpClass adds it to every node)


def partition_of(member_id):
    """FNV-1a-32 of the member id modulo the partition count (cluster.md)."""
    h = 2166136261
    for byte in member_id.encode():
        h ^= byte
        h = (h * 16777619) & 0xFFFFFFFF
    return h % PARTITIONS


def nats_port():
    with open(os.path.join(ClusterTest.dir, "ports")) as f:
        return int(dict(line.split() for line in f)["nats-1"])


def stream_texts(stream="loyalty"):
    """Every message the input log's stream holds now, headers and data, as text (read one by
    one through JetStream's API over a plain NATS connection)."""
    with socket.create_connection(("127.0.0.1", nats_port()), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()  # INFO
        sock.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
                     b"SUB _INBOX.scan 1\r\n")

        def ask(subject, body):
            payload = json.dumps(body).encode()
            sock.sendall(f"PUB {subject} _INBOX.scan {len(payload)}\r\n".encode() + payload +
                         b"\r\n")
            while True:
                line = reader.readline()
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG"):
                    data = reader.read(int(line.split()[-1]))
                    reader.read(2)
                    return json.loads(data)
                elif line.startswith(b"-ERR"):
                    raise RuntimeError(line)

        state = ask(f"$JS.API.STREAM.INFO.{stream}", {})["state"]
        texts = []
        for seq in range(state["first_seq"], state["last_seq"] + 1):
            message = ask(f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": seq}).get("message")
            if message is None:
                continue  # erased (or never there)
            text = base64.b64decode(message.get("data", "")) + base64.b64decode(
                message.get("hdrs", ""))
            texts.append(text.decode("latin-1"))
        return texts


class Node:
    """A running loyaltyd of the cluster, talked to with the end-to-end harness's client."""

    def __init__(self, name, url):
        self.name = name
        self.port = int(url.rsplit(":", 1)[1])
        self.server = harness.Server.__new__(harness.Server)
        self.server.port = self.port

    def request(self, method, path, body=None, key=harness.ADMIN_KEY, headers=None):
        return self.server.request(method, path, body, key=key, headers=headers)


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="loyalty-cluster-")
        # A till's key that may post and refund for store s-2 only.
        extra = os.path.join(cls.dir, "store-key.toml")
        with open(extra, "w") as f:
            f.write('\n[[api_keys]]\nname = "till-s2"\nrole = "pos"\n'
                    f'sha256 = "{hashlib.sha256(STORE_KEY.encode()).hexdigest()}"\n'
                    'stores = ["s-2"]\n'
                    # Webhooks to a receiver on loopback, retried every second.
                    '\n[webhooks]\nallow_private_addresses = true\ntimeout_seconds = 2\n'
                    'retry_schedule_seconds = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n')
        up = subprocess.run([SCRIPT, "up", "--dir", cls.dir, "--nodes", "3", "--partitions",
                             str(PARTITIONS), "--extra-config", extra],
                            capture_output=True, text=True, timeout=180,
                            env={**os.environ, "LOYALTYD": harness.LOYALTYD})
        if up.returncode != 0:
            raise RuntimeError("cluster.sh up failed:\n" + up.stdout + up.stderr)
        cls.nodes = {}
        for line in up.stdout.splitlines():
            kind, name, url, _, pid = line.split()
            if kind == "loyaltyd":
                cls.nodes[name] = Node(name, url)
        cls.acknowledged = {}  # member -> points of its acknowledged purchases

    @classmethod
    def tearDownClass(cls):
        subprocess.run([SCRIPT, "down", "--dir", cls.dir], timeout=120)

    def cluster(self, node):
        response = node.request("GET", "/v1/cluster")
        self.assertEqual(response.status, 200, response)
        return response.json

    def owners(self, node):
        return {p["partition"]: p["owner"] for p in self.cluster(node)["partitions"]}

    def wait_for_owners(self, seconds=20):
        """Until every node sees an owner for every partition, the same one."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            views = [self.owners(n) for n in self.nodes.values() if self.alive(n)]
            if all(None not in v.values() for v in views) and all(v == views[0] for v in views):
                return views[0]
            time.sleep(0.2)
        self.fail(f"the nodes do not agree on owners: {views}")

    def alive(self, node):
        with open(os.path.join(self.dir, node.name + ".pid")) as f:
            pid = int(f.read())
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    @staticmethod
    def retrying(send, seconds=15):
        """As a POS client does: a 503 (a partition moving between nodes) is sent again."""
        deadline = time.time() + seconds
        while True:
            response = send()
            if response.status != 503 or time.time() > deadline:
                return response
            time.sleep(0.1)

    def buy(self, node, event_id, member_id, amount_minor=6400):
        body = harness.purchase_body(event_id, member_id,
                                     [harness.line("a", "food", amount_minor)])
        return self.retrying(
            lambda: node.request("POST", "/v1/events/purchase", body, key=harness.POS_KEY))

    def sign_up(self, node, member_id):
        return self.retrying(lambda: node.request("POST", "/v1/members", {"member_id": member_id},
                                                  key=harness.APP_KEY))

    def test_1_every_node_takes_writes_and_a_retry_anywhere_replays(self):
        owners = self.wait_for_owners()
        names = sorted(self.nodes)
        for i in range(12):
            member = f"w-{i}"
            via = self.nodes[names[i % 3]]
            joined = self.sign_up(via, member)
            self.assertEqual(joined.status, 201, joined)
            self.assertEqual(joined.json["member_id"], member)
            first = self.buy(via, f"w-e-{i}", member)
            self.assertEqual(first.status, 200, first)
            self.assertFalse(first.json["replayed"])
            self.acknowledged[member] = first.json["points_earned"]
            for other in names:  # the client's retries, on every node
                again = self.buy(self.nodes[other], f"w-e-{i}", member)
                self.assertEqual(again.status, 200, again)
                self.assertTrue(again.json["replayed"], again)
                self.assertEqual(again.json["points_earned"], first.json["points_earned"])
        # A read on any node sees every acknowledged write (answered by the member's owner).
        for member, points in self.acknowledged.items():
            for name in names:
                view = self.retrying(lambda: self.nodes[name].request(
                    "GET", f"/v1/members/{member}", key=harness.APP_KEY))
                self.assertEqual(view.status, 200, view)
                self.assertEqual(view.json["balance"]["available"], points, (name, view))
                ledger = self.retrying(lambda: self.nodes[name].request(
                    "GET", f"/v1/members/{member}/ledger"))
                self.assertEqual(ledger.status, 200, ledger)
                self.assertEqual(len(ledger.json["entries"]), 1, ledger)
            missing = self.nodes[name].request("GET", f"/v1/members/{member}-nobody")
            self.assertEqual(missing.status, 404, missing)
        # The same event id with another payload for the same member is a conflict.
        conflict = self.buy(self.nodes[names[1]], "w-e-0", "w-0", 100)
        self.assertEqual(conflict.status, 409, conflict)
        self.assertEqual(conflict.json["code"], "idempotency_conflict")

    def members_in_other_partitions(self, prefix, count):
        """`count` member ids of distinct partitions."""
        found, seen = [], set()
        for i in range(10000):
            member = f"{prefix}{i}"
            if partition_of(member) not in seen:
                seen.add(partition_of(member))
                found.append(member)
                if len(found) == count:
                    return found
        self.fail("not enough partitions")

    def test_1a_what_is_unique_is_unique_cluster_wide(self):
        self.wait_for_owners()
        n1, n2, n3 = (self.nodes[n] for n in sorted(self.nodes))
        a, b, referrer = self.members_in_other_partitions("u-", 3)
        # A phone belongs to one member, whichever node and partition the second one comes to.
        first = self.retrying(lambda: n1.request(
            "POST", "/v1/members", {"member_id": a, "phone": "13912345678"}, key=harness.APP_KEY))
        self.assertEqual(first.status, 201, first)
        taken = self.retrying(lambda: n2.request(
            "POST", "/v1/members", {"member_id": b, "phone": "13912345678"}, key=harness.APP_KEY))
        self.assertEqual(taken.status, 409, taken)
        self.assertEqual((taken.json["code"], taken.json["errors"][0]["field"]),
                         ("member_exists", "phone"))
        self.assertEqual(self.sign_up(n2, b).status, 201)
        # A sign-up refused for its card leaves its phone to whoever signs up with it next
        # (a claim is never given back: the card is looked at before the phone is claimed).
        carded = self.retrying(lambda: n1.request(
            "POST", "/v1/members", {"member_id": "u-card-1", "card_no": "C-7001"},
            key=harness.APP_KEY))
        self.assertEqual(carded.status, 201, carded)
        refused = self.retrying(lambda: n2.request(
            "POST", "/v1/members",
            {"member_id": "u-card-2", "phone": "13700001111", "card_no": "C-7001"},
            key=harness.APP_KEY))
        self.assertEqual(refused.status, 409, refused)
        self.assertEqual((refused.json["code"], refused.json["errors"][0]["field"]),
                         ("member_exists", "card_no"))
        phoned = self.retrying(lambda: n3.request(
            "POST", "/v1/members", {"member_id": "u-card-3", "phone": "13700001111"},
            key=harness.APP_KEY))
        self.assertEqual(phoned.status, 201, phoned)
        # One event id is never applied for two members (their partitions differ).
        bought = self.buy(n1, "u-e-1", a)
        self.assertEqual(bought.status, 200, bought)
        self.acknowledged[a] = bought.json["points_earned"]
        for node in (n1, n2, n3):
            reused = self.buy(node, "u-e-1", b)
            self.assertEqual(reused.status, 409, reused)
            self.assertEqual((reused.json["code"], reused.json["errors"][0]["field"]),
                             ("idempotency_conflict", "event_id"))
        # A referral code names its member on every node; the reward reaches the referrer.
        joined = self.sign_up(n3, referrer)
        self.assertEqual(joined.status, 201, joined)
        code = joined.json["referral_code"].lower()  # as a member types it
        referee = next(f"u-ref-{i}" for i in range(10000)
                       if partition_of(f"u-ref-{i}") != partition_of(referrer))
        referred = self.retrying(lambda: n1.request(
            "POST", "/v1/members", {"member_id": referee, "referral_code": code},
            key=harness.APP_KEY))
        self.assertEqual(referred.status, 201, referred)
        self.assertEqual(referred.json["referred_by"], referrer)
        self.assertNotEqual(referred.json["referral_code"], joined.json["referral_code"])
        unknown = self.retrying(lambda: n2.request(
            "POST", "/v1/members", {"member_id": "u-nobody", "referral_code": "ZZZZ2222"},
            key=harness.APP_KEY))
        self.assertEqual(unknown.status, 422, unknown)
        self.assertEqual(unknown.json["code"], "unknown_referral_code")
        # A refund names only its purchase: every node finds the member through its claim.
        for i, node in enumerate((n1, n2, n3)):
            refund = {"event_id": f"u-r-{i}", "original_event_id": "u-e-1",
                      "occurred_at": "2026-11-21T09:00:00Z", "amount_minor": 100}
            refunded = self.retrying(lambda: node.request("POST", "/v1/events/refund", refund,
                                                          key=harness.POS_KEY))
            self.assertEqual(refunded.status, 200, refunded)
            self.assertEqual(refunded.json["member_id"], a, "found by the purchase's claim")
            self.assertFalse(refunded.json["replayed"])
            self.acknowledged[a] -= refunded.json["points_reversed"]
        self.assertEqual(refunded.json["remaining_minor"], 6400 - 300, "one purchase, three parts")
        for node in (n1, n2, n3):
            view = self.retrying(lambda: node.request("GET", f"/v1/members/{a}"))
            self.assertEqual(view.json["balance"]["available"], self.acknowledged[a], view)

    def test_1b_loyaltyctl_cluster_status_reports_every_node_and_partition(self):
        self.wait_for_owners()
        node = self.nodes["n2"]
        url = f"http://127.0.0.1:{node.port}"
        shown = harness.ctl("cluster", "status", "--server", url, "--key", harness.ADMIN_KEY)
        self.assertEqual(shown.returncode, 0, shown.stdout + shown.stderr)
        self.assertIn(f"{PARTITIONS} of {PARTITIONS} partitions owned", shown.stdout)
        for name in self.nodes:
            self.assertIn(f"node {name} ", shown.stdout)
        self.assertEqual(sum(line.startswith("partition ") for line in shown.stdout.splitlines()),
                         PARTITIONS)
        as_json = harness.ctl("cluster", "status", "--server", url, "--key", harness.ADMIN_KEY,
                              "--json")
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        status = json.loads(as_json.stdout)
        self.assertEqual(status["node_id"], "n2")
        applied_here = [p for p in status["partitions"] if p["role_here"] != "none"]
        self.assertTrue(applied_here)
        for partition in applied_here:  # how far behind its log this node is, where it applies
            self.assertIsInstance(partition["lag_here"], int, partition)
        refused = harness.ctl("cluster", "status", "--server", url, "--key", harness.POS_KEY)
        self.assertEqual(refused.returncode, 1, refused.stdout + refused.stderr)
        self.assertIn("403", refused.stderr)

    def test_1d_a_subscriber_on_a_node_without_the_members_partition_gets_its_feed(self):
        self.wait_for_owners()
        view = self.cluster(self.nodes["n1"])
        appliers = {p["partition"]: {p["owner"], *p["standbys"]} for p in view["partitions"]}
        # A member whose partition n-X neither owns nor stands by for: its store has nothing of
        # the member, so everything the subscriber gets there comes from the owner.
        member, far = next((f"f-{i}", n) for i in range(10000) for n in sorted(self.nodes)
                           if n not in appliers[partition_of(f"f-{i}")])
        near = self.nodes[next(iter(appliers[partition_of(member)]))]
        far = self.nodes[far]
        self.assertEqual(self.sign_up(near, member).status, 201)
        self.assertEqual(self.buy(near, "f-e-0", member).status, 200)

        async def scenario():
            uri = f"ws://127.0.0.1:{far.port}/v1/stream"
            headers = {"Authorization": f"Bearer {harness.APP_KEY}"}
            async with websockets.connect(uri, extra_headers=headers) as ws:
                async def receive():
                    return json.loads(await asyncio.wait_for(ws.recv(), 15))
                await ws.send(json.dumps({"op": "subscribe", "member_id": member,
                                          "after_seq": 0}))
                subscribed = await receive()
                self.assertEqual(subscribed["op"], "subscribed", subscribed)
                latest = subscribed["seq"]
                self.assertGreaterEqual(latest, 1, "the owner's newest seq")
                caught_up = [await receive() for _ in range(latest)]
                self.assertEqual([p["seq"] for p in caught_up], list(range(1, latest + 1)))
                self.assertIn("f-e-0", [p["reference"] for p in caught_up])
                # Live: a purchase through another node reaches this subscriber.
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(None, self.buy, near, "f-e-1", member)
                self.assertEqual(answer.status, 200, answer)
                pushes = [await receive()]
                while pushes[-1].get("reference") != "f-e-1":
                    self.assertLess(len(pushes), 3, pushes)
                    pushes.append(await receive())
                self.assertEqual([p["seq"] for p in pushes],
                                 list(range(latest + 1, latest + 1 + len(pushes))))

        asyncio.run(scenario())

    def test_1c_each_node_reports_its_part_in_metrics(self):
        self.wait_for_owners()
        owned, standby, published = 0, 0, 0
        for node in self.nodes.values():
            scraped = node.request("GET", "/metrics", key=None)
            self.assertEqual(scraped.status, 200, scraped)
            samples = {}
            for line in scraped.body.splitlines():
                if line and not line.startswith("#"):
                    name, value = line.rsplit(" ", 1)
                    samples[name] = float(value)
            owned += samples['loyalty_cluster_partitions{role="owner"}']
            standby += samples['loyalty_cluster_partitions{role="standby"}']
            published += samples["loyalty_cluster_published_total"]
            self.assertEqual(samples["loyalty_cluster_log_connected"], 1)
            self.assertIn("loyalty_cluster_publish_duration_seconds_count", samples)
            lags = [v for k, v in samples.items()
                    if k.startswith("loyalty_cluster_apply_lag_messages{")]
            self.assertTrue(lags, "a lag per partition the node applies")
        self.assertEqual(owned, PARTITIONS, "each partition owned by one node")
        self.assertEqual(standby, PARTITIONS, "one standby each (three nodes)")
        self.assertGreater(published, 0)

    def test_1e_a_program_put_on_one_node_rules_every_partition_after_it(self):
        self.wait_for_owners()
        names = sorted(self.nodes)
        with open(os.path.join(harness.SOURCE_DIR, "config", "program.toml")) as f:
            shipped = f.read()
        tripled = shipped.replace("points_per_unit = 1 ", "points_per_unit = 3 ", 1)
        self.assertNotEqual(tripled, shipped)
        toml = {"Content-Type": "application/toml"}
        # A refused program changes nothing, on any node.
        bad = self.nodes[names[0]].server.request(
            "PUT", "/v1/program", raw=b"[program\nid = 1", headers=toml)
        self.assertEqual(bad.status, 400, bad)
        before = self.nodes[names[0]].request("GET", "/v1/program").json["version"]
        put = self.retrying(lambda: self.nodes[names[1]].server.request(
            "PUT", "/v1/program", raw=tripled.encode(), headers=toml))
        self.assertEqual(put.status, 200, put)
        self.assertEqual(put.json["version"], before + 1)
        self.assertEqual(put.json["source_toml"], tripled)
        ClusterTest.tripled_version = put.json["version"]  # test 1i recalculates under it
        # Every write accepted after the answer, on any node, for a member of any partition, is
        # decided under the new rules: 64 yuan earn 3 x 64 points.
        for i, member in enumerate(self.members_in_other_partitions("pv-", PARTITIONS)):
            via = self.nodes[names[i % 3]]
            self.assertEqual(self.sign_up(via, member).status, 201)
            bought = self.buy(via, f"pv-e-{i}", member)
            self.assertEqual(bought.status, 200, bought)
            self.assertEqual(bought.json["points_earned"], 192, (member, bought))
            self.acknowledged[member] = bought.json["points_earned"]
        # Every node learns the version from the logs it applies.
        deadline = time.time() + 10
        for name in names:
            while True:
                active = self.nodes[name].request("GET", "/v1/program").json
                if active["version"] == put.json["version"] or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(active["version"], put.json["version"], name)
            self.assertEqual(active["source_toml"], tripled, name)
        # The same text again is the same version (a retry of a PUT that timed out).
        again = self.nodes[names[2]].server.request(
            "PUT", "/v1/program", raw=tripled.encode(), headers=toml)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json["version"], put.json["version"])

    def test_1f_a_job_posted_on_one_node_runs_over_every_partition(self):
        self.wait_for_owners()
        names = sorted(self.nodes)
        # Gold from 1 yuan of spend, kept no time: buyers in every partition go gold at once;
        # then back to 500 yuan, and an evaluation takes them down again, wherever they are.
        with open(os.path.join(harness.SOURCE_DIR, "config", "program.toml")) as f:
            shipped = f.read()
        unkept = shipped.replace("points_per_unit = 1 ", "points_per_unit = 3 ", 1).replace(
            "retain_months = 12 ", "retain_months = 0  ", 1)
        easy_gold = unkept.replace("threshold = 50000 ", "threshold = 100   ", 1)
        self.assertEqual(len({shipped, unkept, easy_gold}), 3)

        def activate(text):
            put = self.retrying(lambda: self.nodes[names[0]].server.request(
                "PUT", "/v1/program", raw=text.encode(),
                headers={"Content-Type": "application/toml"}))
            self.assertEqual(put.status, 200, put)

        activate(easy_gold)
        golden = self.members_in_other_partitions("jf-", PARTITIONS)
        for i, member in enumerate(golden):
            self.assertEqual(self.sign_up(self.nodes[names[i % 3]], member).status, 201)
            bought = self.buy(self.nodes[names[(i + 1) % 3]], f"jf-e-{i}", member)
            self.assertEqual(bought.status, 200, bought)
            self.assertEqual(bought.json["tier"], "gold", bought)
            self.acknowledged[member] = bought.json["points_earned"]
        activate(unkept)
        as_of = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        posted = self.nodes[names[1]].request(
            "POST", "/v1/jobs", {"type": "evaluate_tiers", "as_of": as_of})
        self.assertEqual(posted.status, 202, posted)
        path = posted.headers["Location"]
        self.assertEqual(urllib.parse.unquote(path), "/v1/jobs/" + posted.json["job_id"])
        # Its progress, from any node: partitions done of all, then the whole report.
        deadline = time.time() + 60
        while True:
            job = self.nodes[names[2]].request("GET", path)
            self.assertEqual(job.status, 200, job)
            if job.json["state"] in ("succeeded", "failed") or time.time() > deadline:
                break
            self.assertLessEqual(job.json["progress"]["done"], PARTITIONS)
            time.sleep(0.2)
        self.assertEqual(job.json["state"], "succeeded", job)
        self.assertEqual(job.json["progress"], {**job.json["progress"], "done": PARTITIONS,
                                                "total": PARTITIONS})
        result = job.json["result"]
        self.assertGreaterEqual(result["members"], len(self.acknowledged))
        self.assertEqual(result["failed"], 0)
        self.assertGreaterEqual(result["tier_changes"], len(golden), result)
        elsewhere = self.nodes[names[0]].request("GET", path)
        self.assertEqual(elsewhere.json["result"], result)
        for i, member in enumerate(golden):  # every partition's, read on any node
            view = self.retrying(lambda: self.nodes[names[i % 3]].request(
                "GET", f"/v1/members/{member}", key=harness.APP_KEY))
            self.assertEqual(view.json["tier"], "green", view)
        # Asked again on another node: the same job, not run twice.
        again = self.nodes[names[0]].request(
            "POST", "/v1/jobs", {"type": "evaluate_tiers", "as_of": as_of})
        self.assertEqual(again.status, 202, again)
        self.assertEqual(again.json["job_id"], posted.json["job_id"])
        self.assertEqual(again.json["result"], result)

    def test_1g_lookups_holds_and_quotes_are_answered_on_every_node(self):
        self.wait_for_owners()
        names = sorted(self.nodes)
        for i, member in enumerate(self.members_in_other_partitions("lq-", PARTITIONS)):
            phone, card = f"1370000{i:04d}", f"card-lq-{i}"
            joined = self.retrying(lambda: self.nodes[names[i % 3]].request(
                "POST", "/v1/members", {"member_id": member, "phone": phone, "card_no": card},
                key=harness.APP_KEY))
            self.assertEqual(joined.status, 201, joined)
            bought = self.buy(self.nodes[names[(i + 1) % 3]], f"lq-e-{i}", member)
            self.assertEqual(bought.status, 200, bought)
            self.acknowledged[member] = bought.json["points_earned"]
            held = self.retrying(lambda: self.nodes[names[(i + 2) % 3]].request(
                "POST", "/v1/holds", {"hold_id": f"lq-h-{i}", "member_id": member, "points": 100},
                key=harness.POS_KEY))
            self.assertEqual(held.status, 201, held)
            basket = {k: v for k, v in harness.purchase_body(
                "unused", member, [harness.line("a", "food", 1000)]).items() if k != "event_id"}
            quotes = []
            for name in names:  # the writes just acknowledged, seen from every node
                node = self.nodes[name]
                for query in (f"phone={phone}", f"card_no={card}"):
                    found = self.retrying(lambda: node.request(
                        "GET", f"/v1/members:lookup?{query}", key=harness.POS_KEY))
                    self.assertEqual(found.status, 200, (name, found))
                    self.assertEqual(found.json["member_id"], member)
                    self.assertEqual(found.json["balance"]["held"], 100, (name, found))
                hold = self.retrying(lambda: node.request(
                    "GET", f"/v1/holds/lq-h-{i}", key=harness.POS_KEY))
                self.assertEqual(hold.status, 200, (name, hold))
                self.assertEqual(hold.json["member_id"], member)
                quote = self.retrying(lambda: node.request(
                    "POST", "/v1/quotes", basket, key=harness.POS_KEY))
                self.assertEqual(quote.status, 200, (name, quote))
                quotes.append(quote.json)
            self.assertEqual(quotes, [quotes[0]] * 3)
        for name in names:  # a purchase's breakdown is read on every node, from its owner
            kept = self.retrying(lambda: self.nodes[name].request(
                "GET", "/v1/purchases/lq-e-0", key=harness.POS_KEY))
            self.assertEqual(kept.status, 200, (name, kept))
            self.assertEqual(kept.json["points_earned"], self.acknowledged[kept.json["member_id"]])
        for name in names:  # what nobody holds is not found, on every node
            node = self.nodes[name]
            for path, field in (("/v1/members:lookup?phone=19999999999", "phone"),
                                ("/v1/holds/lq-none", "hold_id")):
                missing = self.retrying(lambda: node.request("GET", path, key=harness.POS_KEY))
                self.assertEqual(missing.status, 404, (name, missing))
                self.assertEqual(missing.json["errors"][0]["field"], field)
            quote = node.request("POST", "/v1/quotes", {**basket, "member_id": "lq-nobody"},
                                 key=harness.POS_KEY)
            self.assertEqual(quote.status, 404, (name, quote))

    def test_1h_a_till_refunds_its_own_stores_purchases_from_any_node(self):
        self.wait_for_owners()
        names = sorted(self.nodes)

        def refund(name, event_id, original, amount_minor):
            return self.retrying(lambda: self.nodes[name].request(
                "POST", "/v1/events/refund",
                {"event_id": event_id, "original_event_id": original,
                 "occurred_at": "2026-11-21T10:00:00Z", "amount_minor": amount_minor},
                key=STORE_KEY))

        for i, member in enumerate(self.members_in_other_partitions("rf-", PARTITIONS)):
            self.assertEqual(self.sign_up(self.nodes[names[i % 3]], member).status, 201)
            for store in ("s-1", "s-2"):
                body = harness.purchase_body(f"rf-{store}-{i}", member,
                                             [harness.line("a", "food", 6400)], store_id=store)
                bought = self.retrying(lambda: self.nodes[names[i % 3]].request(
                    "POST", "/v1/events/purchase", body, key=harness.POS_KEY))
                self.assertEqual(bought.status, 200, bought)
            for name in names:  # whether or not the node holds the purchase
                other = refund(name, f"rf-r1-{name}-{i}", f"rf-s-1-{i}", 100)
                self.assertEqual(other.status, 403, (name, other))
                self.assertEqual(other.json["errors"][0]["field"], "original_event_id")
                # The same inside a batch, item by item, as an offline upload sends them.
                items = [{"type": "refund", "event_id": f"rf-b{k}-{name}-{i}",
                          "original_event_id": f"rf-{store}-{i}",
                          "occurred_at": "2026-11-21T10:00:00Z", "amount_minor": 100}
                         for k, store in enumerate(("s-1", "s-2"))]
                batch = self.retrying(lambda: self.nodes[name].request(
                    "POST", "/v1/events:batch", items, key=STORE_KEY))
                self.assertEqual(batch.status, 200, batch)
                statuses = [r["status"] for r in batch.json["results"]]
                self.assertEqual(statuses, [403, 200], (name, batch.json))
                self.assertEqual(batch.json["results"][1]["member_id"], member)
            refunded = refund(names[(i + 1) % 3], f"rf-r2-{i}", f"rf-s-2-{i}", 6400 - 300)
            self.assertEqual(refunded.status, 200, refunded)
            self.assertEqual(refunded.json["member_id"], member)
            unknown = refund(names[i % 3], f"rf-r3-{i}", f"rf-none-{i}", 100)
            self.assertEqual(unknown.status, 404, unknown)

    def run_job(self, posted_on, checked_on, body):
        posted = posted_on.request("POST", "/v1/jobs", body)
        self.assertEqual(posted.status, 202, posted)
        deadline = time.time() + 90
        while True:
            job = checked_on.request("GET", posted.headers["Location"])
            self.assertEqual(job.status, 200, job)
            if job.json["state"] in ("succeeded", "failed") or time.time() > deadline:
                return job.json
            time.sleep(0.2)

    def test_1i_a_recalculation_runs_over_every_partition(self):
        self.wait_for_owners()
        names = sorted(self.nodes)
        before = {}
        for i in range(12):  # test 1's buyers: 64 yuan each at 1 point a yuan
            view = self.retrying(lambda: self.nodes[names[i % 3]].request(
                "GET", f"/v1/members/w-{i}", key=harness.APP_KEY))
            before[f"w-{i}"] = view.json["balance"]["available"]
        body = {"type": "recalculate", "program_version": self.tripled_version,
                "from": "2026-11-01T00:00:00Z",
                "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        dry = self.run_job(self.nodes[names[0]], self.nodes[names[1]], body)
        self.assertEqual(dry["state"], "succeeded", dry)
        self.assertEqual(dry["progress"]["done"], PARTITIONS)
        report = dry["result"]
        self.assertEqual(report["mode"], "dry_run")
        self.assertEqual(report["program"], f"coffee-club@{self.tripled_version}")
        self.assertGreaterEqual(report["events_changed"], 12, report)
        self.assertGreaterEqual(report["total_positive"], 12 * 128, report)
        self.assertEqual(sum(b["count"] for b in report["histogram"]), report["events_changed"])
        self.assertLessEqual(len(report["largest"]), 20)
        self.assertTrue(dry["csv_available"])
        # Every change, from every partition, on any node: one row each under one header.
        for name in names:
            csv = self.nodes[name].request("GET", f"/v1/jobs/{dry['job_id']}",
                                           headers={"Accept": "text/csv"})
            self.assertEqual(csv.status, 200, csv)
            lines = csv.body.splitlines()
            self.assertTrue(lines[0].startswith("job_id,member_id,event_id,"), lines[0])
            self.assertEqual(len(lines) - 1, report["events_changed"], name)
            rows = [line.split(",") for line in lines[1:]]
            self.assertEqual(sum(int(row[6]) for row in rows), report["total_delta"])
            self.assertEqual(len({row[2] for row in rows}), len(rows), "one row a purchase")
            self.assertTrue({f"w-{i}" for i in range(12)} <= {row[1] for row in rows})
        for i in range(12):  # a dry run changes nothing
            view = self.nodes[names[i % 3]].request("GET", f"/v1/members/w-{i}",
                                                    key=harness.APP_KEY)
            self.assertEqual(view.json["balance"]["available"], before[f"w-{i}"])

        applied = self.run_job(self.nodes[names[2]], self.nodes[names[0]],
                               {**body, "dry_run": False})
        self.assertEqual(applied["state"], "succeeded", applied)
        report = applied["result"]
        self.assertEqual(report["mode"], "apply")
        self.assertEqual(report["adjustments_applied"], report["events_changed"], report)
        self.assertEqual(report["adjustments_failed"], 0)
        for i in range(12):  # each purchase adjusted by 128 points, once, on every partition
            view = self.retrying(lambda: self.nodes[names[(i + 1) % 3]].request(
                "GET", f"/v1/members/w-{i}", key=harness.APP_KEY))
            self.assertEqual(view.json["balance"]["available"], before[f"w-{i}"] + 128, i)
            self.acknowledged[f"w-{i}"] = view.json["balance"]["available"]
        again = self.nodes[names[1]].request("POST", "/v1/jobs", {**body, "dry_run": False})
        self.assertEqual(again.status, 202, again)
        self.assertEqual(again.json["job_id"], applied["job_id"])
        self.assertEqual(again.json["result"], report)

    def test_1j_stock_and_codes_are_exact_across_nodes_and_partitions(self):
        """Issue 17's race in cluster mode: members of every partition redeem the last units
        of a reward through every node at once, and tills on every node use one code at once
        (over HTTP and the WebSocket); then a cancellation's unit goes back to the reward."""
        self.wait_for_owners()
        names = sorted(self.nodes)
        nodes = [self.nodes[n] for n in names]
        toml = {"Content-Type": "application/toml"}
        active = nodes[0].request("GET", "/v1/program").json["source_toml"]
        stocked = active + (
            '\n[[rewards]]\nid = "race-mug"\nname = "Race mug"\nkind = "product"\n'
            'cost_points = 100\nstock = 5\non_refund = "refund_points"\n')
        put = self.retrying(lambda: nodes[1].server.request(
            "PUT", "/v1/program", raw=stocked.encode(), headers=toml))
        self.assertEqual(put.status, 200, put)
        for node in nodes:  # every node answers with it (the redeeming node asks for a unit)
            deadline = time.time() + 10
            while node.request("GET", "/v1/program").json["version"] != put.json["version"]:
                self.assertLess(time.time(), deadline)
                time.sleep(0.1)

        members = [f"cr-{i}" for i in range(24)]
        self.assertEqual(len({partition_of(m) for m in members}), PARTITIONS)
        balance = {}
        for i, member in enumerate(members):
            self.assertEqual(self.sign_up(nodes[i % 3], member).status, 201)
            bought = self.buy(nodes[(i + 1) % 3], f"cr-e-{i}", member)
            self.assertEqual(bought.status, 200, bought)
            view = self.retrying(lambda: nodes[i % 3].request("GET", f"/v1/members/{member}"))
            balance[member] = view.json["balance"]["available"]
            self.assertGreaterEqual(balance[member], 100)

        def redeem(i):
            return self.retrying(lambda: nodes[i % 3].request(
                "POST", f"/v1/members/{members[i]}/rewards/race-mug:redeem",
                {"redemption_id": f"cr-r{i}"}, key=harness.APP_KEY))

        with ThreadPoolExecutor(len(members)) as pool:
            answers = list(pool.map(redeem, range(len(members))))
        won = [a for a in answers if a.status == 201]
        lost = [a for a in answers if a.status != 201]
        self.assertEqual(len(won), 5, [(a.status, a.json) for a in answers])
        self.assertTrue(all(a.status == 422 and a.json["code"] == "out_of_stock" for a in lost),
                        [(a.status, a.json) for a in lost[:3]])
        winners = {a.json["member_id"] for a in won}
        for member in members:  # the books agree with the answers, at the member's owner
            view = self.retrying(lambda: nodes[0].request("GET", f"/v1/members/{member}"))
            self.assertEqual(view.json["balance"]["available"],
                             balance[member] - (100 if member in winners else 0), member)
        for node in nodes:
            catalog = self.retrying(lambda: node.request("GET", "/v1/rewards"))
            self.assertEqual(catalog.status, 200, catalog)
            mug = next(r for r in catalog.json["rewards"] if r["reward_id"] == "race-mug")
            self.assertEqual(mug["stock_left"], 0, node.name)
        loser = next(m for m in members if m not in winners)
        mine = self.retrying(lambda: nodes[2].request(
            "GET", f"/v1/members/{loser}/rewards", key=harness.APP_KEY))
        mug = next(r for r in mine.json["rewards"] if r["reward_id"] == "race-mug")
        self.assertEqual((mug["redeemable"], mug["reasons"]), (False, ["out_of_stock"]), mug)
        print(f"\ncluster race: {len(members)} redemptions on 3 nodes for 5 units: {len(won)} "
              f"issued, {len(lost)} out_of_stock, oversold 0", file=sys.stderr)

        # Every node finds a code's coupon through its claim; a code nobody holds is 404.
        code, owner = won[0].json["coupon"]["code"], won[0].json["member_id"]
        for node in nodes:
            checked = self.retrying(lambda: node.request("GET", f"/v1/coupons/{code.lower()}",
                                                         key=harness.POS_KEY))
            self.assertEqual(checked.status, 200, checked)
            self.assertEqual((checked.json["member_id"], checked.json["state"]), (owner, "active"))
        free = "000000000000"  # a code nobody holds
        self.assertEqual(nodes[1].request("GET", f"/v1/coupons/{free}",
                                          key=harness.POS_KEY).status, 404)

        # A member's token cancels only its own coupons, on any node.
        secret = "dev-only-member-token-secret-change-me"  # config/server.toml's
        other_code, other = won[1].json["coupon"]["code"], won[1].json["member_id"]
        token = member_token(owner, secret=secret)
        refused = nodes[2].request("POST", f"/v1/coupons/{other_code}:cancel", key=token)
        self.assertEqual(refused.status, 403, refused)
        cancelled = self.retrying(lambda: nodes[2].request(
            "POST", f"/v1/coupons/{other_code}:cancel", key=member_token(other, secret=secret)))
        self.assertEqual(cancelled.status, 200, cancelled)
        self.assertEqual(cancelled.json["points_returned"], 100)
        # Its unit goes back to the reward's home partition (through the outbox): one more
        # member gets it, and then none is left again.
        deadline = time.time() + 15
        while True:
            again = self.retrying(lambda: nodes[0].request(
                "POST", f"/v1/members/{loser}/rewards/race-mug:redeem",
                {"redemption_id": f"cr-again-{int(time.time() * 10)}"}, key=harness.APP_KEY))
            if again.status == 201:
                break
            self.assertEqual(again.json["code"], "out_of_stock", again)
            self.assertLess(time.time(), deadline, "the cancelled unit never came back")
            time.sleep(0.3)
        catalog = self.retrying(lambda: nodes[1].request("GET", "/v1/rewards"))
        mug = next(r for r in catalog.json["rewards"] if r["reward_id"] == "race-mug")
        self.assertEqual(mug["stock_left"], 0)

        # One code, a till on every node at once: half use it, half name it in a purchase over
        # the WebSocket. One is taken; the others are refused.
        tills = 6
        start = threading.Barrier(tills)
        results = [None] * tills

        def till_http(i):
            start.wait()
            r = self.retrying(lambda: nodes[i % 3].request(
                "POST", f"/v1/coupons/{code}:use", {"use_id": f"cr-use-{i}", "store_id": "s-1"},
                key=harness.POS_KEY))
            results[i] = ("http", r.status, (r.json or {}).get("code"))

        async def till_ws(i):
            uri = f"ws://127.0.0.1:{nodes[i % 3].port}/v1/stream"
            async with websockets.connect(
                    uri, extra_headers={"Authorization": f"Bearer {harness.POS_KEY}"}) as ws:
                await asyncio.get_running_loop().run_in_executor(None, start.wait)
                body = harness.purchase_body(f"cr-sale-{i}", owner,
                                             [harness.line("a", "food", 2000)])
                body["coupons"] = [code]
                await ws.send(json.dumps({"op": "event", "event": {"type": "purchase", **body}}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                results[i] = ("ws", reply.get("status"), reply.get("code"))

        threads = [threading.Thread(target=till_http, args=(i,)) for i in range(0, tills, 2)]
        threads += [threading.Thread(target=lambda i=i: asyncio.run(till_ws(i)))
                    for i in range(1, tills, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        used = [r for r in results if r and r[1] == 200]
        refused = [r for r in results if r and r[1] == 409]
        self.assertEqual((len(used), len(refused)), (1, tills - 1), results)
        self.assertTrue(all(r[2] == "coupon_not_active" for r in refused), results)
        state = self.retrying(lambda: nodes[0].request("GET", f"/v1/coupons/{code}",
                                                        key=harness.POS_KEY))
        self.assertEqual(state.json["state"], "used")
        print(f"cluster race: {tills} tills on 3 nodes used one code at once: 1 used, "
              f"{len(refused)} coupon_not_active", file=sys.stderr)

    def test_1k_a_member_search_on_any_node_sees_every_partition(self):
        """Customer service's search (GET /v1/members) on any node: every partition's owner
        searches its own members, and the pages come merged in member id order, without gaps or
        repeats across pages."""
        self.wait_for_owners()
        expected = sorted(f"ms-{i}" for i in range(20))
        nodes = [self.nodes[n] for n in sorted(self.nodes)]
        for i, member in enumerate(expected):
            self.assertEqual(self.sign_up(nodes[i % 3], member).status, 201)
        self.assertGreater(len({partition_of(m) for m in expected}), 4)
        for first in nodes:
            seen, cursor = [], None
            for turn in range(20):
                query = "/v1/members?query=ms-&limit=3" + (f"&cursor={cursor}" if cursor else "")
                page = self.retrying(lambda: nodes[(turn + nodes.index(first)) % 3].request(
                    "GET", query, key=harness.POS_KEY))
                self.assertEqual(page.status, 200, page)
                seen += [m["member_id"] for m in page.json["members"]]
                cursor = page.json["next_cursor"]
                if cursor is None:
                    break
            self.assertEqual(seen, expected, first.name)
        unknown = nodes[1].request("GET", "/v1/members?partition=0", key=harness.POS_KEY)
        self.assertEqual(unknown.status, 400, "partition is the nodes' own, not a client's")
        # The overview's figures (GET /v1/stats) add up every partition's counters: the same on
        # every node, and every member signed up so far is counted.
        figures = []
        for node in nodes:
            r = self.retrying(lambda: node.request("GET", "/v1/stats"))
            self.assertEqual(r.status, 200, r)
            del r.json["as_of"]
            figures.append(r.json)
        self.assertEqual(figures, [figures[0]] * 3)
        self.assertGreaterEqual(figures[0]["members"], len(expected))

    def test_1l_a_member_change_and_block_hold_on_every_node(self):
        """PATCH /v1/members/{id} on any node: a new phone is claimed cluster-wide (another
        member's is 409 identifier_taken), lookups by it find the member on every node, and a
        block refuses the member's purchases whichever node the till uses."""
        self.wait_for_owners()
        nodes = [self.nodes[n] for n in sorted(self.nodes)]
        a, b = self.members_in_other_partitions("pa-", 2)
        for member, phone in ((a, "13500000001"), (b, "13500000002")):
            joined = self.retrying(lambda: nodes[0].request(
                "POST", "/v1/members", {"member_id": member, "phone": phone},
                key=harness.APP_KEY))
            self.assertEqual(joined.status, 201, joined)
        taken = self.retrying(lambda: nodes[1].request(
            "PATCH", f"/v1/members/{a}", {"phone": "13500000002"}))
        self.assertEqual((taken.status, taken.json["code"]), (409, "identifier_taken"), taken)
        changed = self.retrying(lambda: nodes[2].request(
            "PATCH", f"/v1/members/{a}", {"phone": "13500000009", "blocked": True}))
        self.assertEqual(changed.status, 200, changed)
        self.assertTrue(changed.json["blocked"])
        for node in nodes:
            found = self.retrying(lambda: node.request(
                "GET", "/v1/members:lookup?phone=13500000009", key=harness.POS_KEY))
            self.assertEqual((found.status, found.json["member_id"]), (200, a), node.name)
            refused = self.buy(node, f"pa-e-{node.name}", a)
            self.assertEqual((refused.status, refused.json["code"]), (403, "member_blocked"))
        unblocked = self.retrying(lambda: nodes[0].request(
            "PATCH", f"/v1/members/{a}", {"blocked": False}))
        self.assertEqual(unblocked.status, 200, unblocked)
        bought = self.buy(nodes[1], "pa-e-after", a)
        self.assertEqual(bought.status, 200, bought)
        self.acknowledged[a] = bought.json["points_earned"]

    def test_1l2_a_changed_phone_or_card_is_free_for_another_member(self):
        """api.md: the old identifier is free once the change is durable. In cluster mode its
        claim is given up in its home partition before the change is answered: another member
        takes the old phone and card at once on any node, lookups find them theirs, and a phone
        its member changed away from and back to stays theirs."""
        self.wait_for_owners()
        nodes = [self.nodes[n] for n in sorted(self.nodes)]
        a, c, d = self.members_in_other_partitions("pf-", 3)
        joined = self.retrying(lambda: nodes[0].request(
            "POST", "/v1/members", {"member_id": a, "phone": "13600000001", "card_no": "PF-1"},
            key=harness.APP_KEY))
        self.assertEqual(joined.status, 201, joined)
        changed = self.retrying(lambda: nodes[1].request(
            "PATCH", f"/v1/members/{a}", {"phone": "13600000002", "card_no": "PF-2"}))
        self.assertEqual(changed.status, 200, changed)

        def join(node, member, body):
            return self.retrying(lambda: node.request(
                "POST", "/v1/members", dict(body, member_id=member), key=harness.APP_KEY))

        taken = join(nodes[2], c, {"phone": "13600000001", "card_no": "PF-1"})
        self.assertEqual(taken.status, 201, taken)
        for node in nodes:
            found = self.retrying(lambda: node.request(
                "GET", "/v1/members:lookup?phone=13600000001", key=harness.POS_KEY))
            self.assertEqual((found.status, found.json["member_id"]), (200, c), node.name)
            found = self.retrying(lambda: node.request(
                "GET", "/v1/members:lookup?card_no=PF-2", key=harness.POS_KEY))
            self.assertEqual((found.status, found.json["member_id"]), (200, a), node.name)

        # Away from a phone and back: the release of the first grant is too late for the
        # second, whichever lands first, and the phone in between is free again.
        for phone, node in (("13600000003", nodes[0]), ("13600000002", nodes[2])):
            moved = self.retrying(lambda: node.request(
                "PATCH", f"/v1/members/{a}", {"phone": phone}))
            self.assertEqual(moved.status, 200, moved)
        freed = join(nodes[1], d, {"phone": "13600000003"})
        self.assertEqual(freed.status, 201, freed)
        time.sleep(1)  # the outbox's copies of the releases have landed too
        kept = join(nodes[0], d + "-x", {"phone": "13600000002"})
        self.assertEqual((kept.status, kept.json["code"]), (409, "member_exists"), kept)
        for node in nodes:
            found = self.retrying(lambda: node.request(
                "GET", "/v1/members:lookup?phone=13600000002", key=harness.POS_KEY))
            self.assertEqual((found.status, found.json["member_id"]), (200, a), node.name)

        # A change refused for its card (another member's) counts no grant of its phone: the
        # member's next change away from that phone frees it as usual.
        refused = self.retrying(lambda: nodes[1].request(
            "PATCH", f"/v1/members/{a}", {"phone": "13600000002", "card_no": "PF-1"}))
        self.assertEqual((refused.status, refused.json["code"]), (409, "identifier_taken"))
        self.assertIn("card_no", refused.body)
        moved = self.retrying(lambda: nodes[0].request(
            "PATCH", f"/v1/members/{a}", {"phone": "13600000004"}))
        self.assertEqual(moved.status, 200, moved)
        freed = join(nodes[2], d + "-y", {"phone": "13600000002"})
        self.assertEqual(freed.status, 201, freed)

    def test_1m_an_erasure_leaves_no_trace_in_any_folder_or_the_input_log(self):
        """POST /v1/members/{id}:erase on a node that does not own the member: its owner erases
        the member's sign-up and change from the partition's input log (stand-ins take their
        places), every node applying the partition purges its folder, the phone and card are
        free for another member, and a node rebuilt from the log alone has the same books."""
        owners = self.wait_for_owners()
        nodes = [self.nodes[n] for n in sorted(self.nodes)]
        member = next(f"er-{i}" for i in range(10000) if owners[partition_of(f"er-{i}")] != "n1")
        gone = ["13711110001", "13711110002", "CARD-ER-7171", "Li Erased-Person"]
        joined = self.retrying(lambda: nodes[1].request(
            "POST", "/v1/members", {"member_id": member, "phone": gone[0], "card_no": gone[2],
                                    "profile": {"name": gone[3]}}, key=harness.APP_KEY))
        self.assertEqual(joined.status, 201, joined)
        changed = self.retrying(lambda: nodes[2].request(
            "PATCH", f"/v1/members/{member}", {"phone": gone[1]}))
        self.assertEqual(changed.status, 200, changed)
        bought = self.buy(nodes[0], "er-e-1", member)
        self.assertEqual(bought.status, 200, bought)
        self.assertTrue(any(gone[0] in text for text in stream_texts()), "before, the log has it")

        erased = self.retrying(lambda: nodes[0].request(
            "POST", f"/v1/members/{member}:erase", {"erasure_id": "dsr-c1", "reason": "ticket 9"}))
        self.assertEqual(erased.status, 200, erased)
        self.assertTrue(erased.json["purged"], erased.json)
        self.assertEqual(erased.json["log_messages_erased"], 2, "the sign-up and the change")
        self.assertEqual(erased.json["member"]["balance"]["available"], bought.json["points_earned"])
        self.acknowledged[member] = bought.json["points_earned"]
        again = self.retrying(lambda: nodes[2].request(
            "POST", f"/v1/members/{member}:erase", {"erasure_id": "dsr-c1", "reason": "ticket 9"}))
        self.assertEqual((again.status, again.json.get("replayed")), (200, True), again)
        self.assertEqual(again.json["log_messages_erased"], 0)

        # Not in any message of the input log, stand-ins included.
        texts = stream_texts()
        for text in gone:
            self.assertFalse([t for t in texts if text in t], text)
        # Nor in any file of any node's folder, once each has purged (standbys on their own).
        deadline = time.time() + 30
        for text in gone:
            while True:
                holding = [(name, files) for name in sorted(self.nodes)
                           if (files := files_holding(os.path.join(self.dir, name, "data"), text))]
                if not holding:
                    break
                self.assertLess(time.time(), deadline, (text, holding))
                time.sleep(0.5)
        for node in nodes:
            for field, value in (("phone", gone[0]), ("phone", gone[1]), ("card_no", gone[2])):
                found = self.retrying(lambda: node.request(
                    "GET", f"/v1/members:lookup?{field}={value}", key=harness.POS_KEY))
                self.assertEqual(found.status, 404, (node.name, value, found))

        # NATS servers keep a replicated stream's appends in their Raft logs too, until they
        # compact them after a snapshot; a clean stop takes one. After a rolling restart (the
        # procedure docs/cluster.md gives) no byte of their folders holds the member's data.
        for name in ("nats-1", "nats-2", "nats-3"):
            subprocess.run([SCRIPT, "stop", "--dir", self.dir, name], check=True, timeout=120,
                           capture_output=True)
            subprocess.run([SCRIPT, "start", "--dir", self.dir, name], check=True, timeout=120,
                           capture_output=True)
            self.wait_for_owners()
        deadline = time.time() + 30
        for text in gone:
            while True:
                holding = [(name, files) for name in ("nats-1", "nats-2", "nats-3")
                           if (files := files_holding(os.path.join(self.dir, name), text))]
                if not holding:
                    break
                self.assertLess(time.time(), deadline, (text, holding))
                time.sleep(0.5)

        # The claims were given up: another member takes the phone and the card.
        (other,) = [m for m in self.members_in_other_partitions("er-next-", 1)]
        taken = self.retrying(lambda: nodes[2].request(
            "POST", "/v1/members", {"member_id": other, "phone": gone[1], "card_no": gone[2]},
            key=harness.APP_KEY))
        self.assertEqual(taken.status, 201, taken)

        # A standby of the partition rebuilt from the log alone (stand-ins in place of the
        # erased messages) becomes its owner and answers with the same books.
        partition = partition_of(member)
        view = {p["partition"]: p for p in self.cluster(nodes[0])["partitions"]}[partition]
        owner_name, standby_name = view["owner"], view["standbys"][0]
        owner_view = {p["partition"]: p
                      for p in self.cluster(self.nodes[owner_name])["partitions"]}[partition]
        log_end = owner_view["applied_sequence_here"]
        subprocess.run([SCRIPT, "stop", "--dir", self.dir, standby_name], check=True, timeout=120)
        shutil.rmtree(os.path.join(self.dir, standby_name, "data"))
        subprocess.run([SCRIPT, "start", "--dir", self.dir, standby_name], check=True,
                       timeout=120, capture_output=True)
        standby = self.nodes[standby_name]
        deadline = time.time() + 60
        while True:  # until it has applied the partition's log from its start to its end
            here = {p["partition"]: p for p in self.cluster(standby)["partitions"]}[partition]
            if here.get("applied_sequence_here", 0) >= log_end:
                break
            self.assertLess(time.time(), deadline, here)
            time.sleep(0.5)
        subprocess.run([SCRIPT, "stop", "--dir", self.dir, owner_name], check=True, timeout=120)
        try:
            deadline = time.time() + 30
            while True:
                answer = standby.request("GET", f"/v1/members/{member}")
                if answer.status == 200:
                    break
                self.assertLess(time.time(), deadline, answer)
                time.sleep(0.2)
            self.assertEqual(answer.json["balance"], erased.json["member"]["balance"])
            self.assertEqual(answer.json["lifetime_points"],
                             erased.json["member"]["lifetime_points"])
            self.assertIn("erased_at", answer.json)
            self.assertNotIn("phone", answer.json)
        finally:
            subprocess.run([SCRIPT, "start", "--dir", self.dir, owner_name], check=True,
                           timeout=120, capture_output=True)
        self.wait_for_owners()

    def test_1n_webhooks_are_sent_by_each_partitions_owner_through_a_failover(self):
        owners = self.wait_for_owners()
        names = sorted(self.nodes)
        receiver = Receiver().start()
        self.addCleanup(receiver.stop)
        # Made on one node, seen on every node (etcd), its secret shown only at creation.
        created = self.nodes[names[0]].request("POST", "/v1/webhooks",
                                               {"url": receiver.url(), "description": "CRM"})
        self.assertEqual(created.status, 201, created)
        endpoint = created.json
        receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        for name in names[1:]:
            shown = self.nodes[name].request("GET", f"/v1/webhooks/{endpoint['id']}")
            self.assertEqual(shown.status, 200, shown)
            self.assertEqual((shown.json["url"], shown.json["description"]),
                             (receiver.url(), "CRM"))
            self.assertNotIn("secret", shown.json)
        listed = self.nodes[names[2]].request("GET", "/v1/webhooks").json["webhooks"]
        self.assertIn(endpoint["id"], [e["id"] for e in listed])

        # Members in every partition, written through every node; a node that owns some of them
        # is killed halfway and started again.
        members = [f"wh-{i}" for i in range(4 * PARTITIONS)]
        self.assertEqual({partition_of(m) for m in members}, set(range(PARTITIONS)))
        victim = owners[partition_of(members[0])]
        for i, member in enumerate(members):
            node = self.nodes[names[i % len(names)]]
            # (200: a retry after a 503 found it done)
            self.assertIn(self.sign_up(node, member).status, (200, 201), member)
            self.assertEqual(self.buy(node, f"wh-e-{member}-1", member).status, 200)
        with open(os.path.join(self.dir, victim + ".pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        survivors = [n for n in names if n != victim]
        for i, member in enumerate(members):
            node = self.nodes[survivors[i % len(survivors)]]
            bought = self.buy(node, f"wh-e-{member}-2", member, amount_minor=12800)
            self.assertEqual(bought.status, 200, bought)
        restarted = subprocess.run([SCRIPT, "start", "--dir", self.dir, victim],
                                   capture_output=True, text=True, timeout=120)
        self.assertEqual(restarted.returncode, 0, restarted.stderr)
        self.wait_for_owners()

        reader = Node.__new__(Node)
        reader.request = lambda method, path, body=None: self.retrying(
            lambda: self.nodes[survivors[0]].request(method, path, body))
        expected = expected_messages(reader, members)
        self.assertGreaterEqual(len(expected), 3 * len(members))  # created, earned twice

        def ours():
            return [d for d in receiver.received() if d.get("member_id") in members]

        wait_for(lambda: {(d["member_id"], d["type"], d["seq"]) for d in ours()} >= expected,
                 timeout=60, what="every message")
        got = ours()
        keys = [(d["member_id"], d["type"], d["seq"]) for d in got]
        self.assertEqual(set(keys) - expected, set(), "messages of nothing that happened")
        for d in got:
            self.assertTrue(d["library_ok"] and d["own_ok"], d)
        # One id per message whichever node sent it: the new owner's copy is a duplicate the
        # receiver can drop by its id.
        ids = {}
        for d in got:
            ids.setdefault((d["member_id"], d["type"], d["seq"]), set()).add(d["id"])
        self.assertEqual([k for k, v in ids.items() if len(v) != 1], [])
        reorderings = 0
        newest = {}
        for member, _, seq in keys:
            if seq < newest.get(member, -1) and keys.count((member, _, seq)) == 1:
                reorderings += 1
            newest[member] = max(seq, newest.get(member, -1))
        print(f"\ncluster webhooks: {len(expected)} messages, {len(got)} received, "
              f"{len(got) - len(set(d['id'] for d in got))} duplicates, "
              f"{reorderings} reorderings", file=sys.stderr)
        self.assertEqual(reorderings, 0)

        # The delivery log, through any node: every live node's attempts (each partition's
        # owners over time made some), merged, in message order, paged. (The restarted node is
        # live again once its registration is back in etcd.)
        wait_for(lambda: len(self.cluster(self.nodes[names[1]])["nodes"]) == len(names),
                 what="every node registered")
        seen = []
        cursor = None
        while True:
            path = f"/v1/webhooks/{endpoint['id']}/deliveries?state=delivered&limit=7"
            page = self.retrying(lambda: self.nodes[names[1]].request(
                "GET", path + (f"&cursor={cursor}" if cursor else "")))
            self.assertEqual(page.status, 200, page)
            self.assertLessEqual(len(page.json["deliveries"]), 7)
            for d in page.json["deliveries"]:
                self.assertEqual(d["state"], "delivered")
                self.assertEqual(d["attempts"][-1]["status"], 200, d)
            seen += [d["message_id"] for d in page.json["deliveries"]]
            cursor = page.json["next_cursor"]
            if cursor is None:
                break
        places = [tuple(int(x) for x in i.split("_")[1:]) for i in seen]
        self.assertEqual(places, sorted(places))
        self.assertEqual(sorted(seen), sorted({d["id"] for d in got}), "each once, every one")

        # A job's end is a message too, sent once by partition 0's owner.
        job = self.run_job(self.nodes[names[1]], self.nodes[names[0]],
                           {"type": "evaluate_tiers",
                            "as_of": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        self.assertEqual(job["state"], "succeeded", job)
        ended = wait_for(lambda: [d for d in receiver.received() if d["type"] == "job.succeeded"
                                  and d["body"]["data"]["job_id"] == job["job_id"]],
                         timeout=30, what="the job's message")
        self.assertTrue(ended[0]["library_ok"])

        # A replay through another node sends every message since then again.
        expected = expected_messages(reader, members)
        before = len(ours())
        replayed = self.nodes[names[2]].request(
            "POST", f"/v1/webhooks/{endpoint['id']}:replay", {"since": "2000-01-01T00:00:00Z"})
        self.assertEqual(replayed.status, 200, replayed)
        wait_for(lambda: len(ours()) >= before + len(expected), timeout=60,
                 what="the replayed messages")
        again = ours()[before:]
        self.assertEqual({(d["member_id"], d["type"], d["seq"]) for d in again}, expected)

        # A 410 from the receiver disables the endpoint for every node (etcd); enabled again on
        # another node, the message that was refused goes first.
        receiver.control("script", {"script": [{"status": 410}]})
        member = members[0]
        self.assertEqual(self.buy(self.nodes[names[2]], f"wh-e-{member}-gone", member).status, 200)
        shown = wait_for(lambda: (lambda e: e if e["disabled"] else None)(
            self.nodes[names[2]].request("GET", f"/v1/webhooks/{endpoint['id']}").json),
            what="the endpoint disabled")
        self.assertEqual(shown["disabled_reason"], "the endpoint answered 410 Gone")
        refused = [d for d in receiver.received() if d["answered"] == 410]
        self.assertEqual(len(refused), 1, refused)
        self.assertEqual(self.nodes[names[1]].request(
            "PATCH", f"/v1/webhooks/{endpoint['id']}", {"disabled": False}).status, 200)
        wait_for(lambda: [d for d in receiver.received()
                          if d["id"] == refused[0]["id"] and d["answered"] == 200],
                 what="the refused message delivered once enabled")
        self.assertEqual(self.nodes[names[0]].request(
            "DELETE", f"/v1/webhooks/{endpoint['id']}").status, 204)
        self.assertEqual(self.nodes[names[2]].request(
            "GET", f"/v1/webhooks/{endpoint['id']}").status, 404)

    def test_2_a_killed_owners_partitions_answer_again_within_the_lease_plus_2s(self):
        owners = self.wait_for_owners()
        victim_name = sorted(set(owners.values()))[0]  # a node that owns something
        victim_partitions = [p for p, owner in owners.items() if owner == victim_name]
        member = next(f"k-{i}" for i in range(10000)
                      if partition_of(f"k-{i}") in victim_partitions)
        survivor = self.nodes[next(n for n in sorted(self.nodes) if n != victim_name)]
        joined = self.sign_up(survivor, member)
        self.assertEqual(joined.status, 201, joined)
        first = self.buy(survivor, "k-e-0", member)
        self.assertEqual(first.status, 200, first)
        self.acknowledged[member] = first.json["points_earned"]

        with open(os.path.join(self.dir, victim_name + ".pid")) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        killed_at = time.time()
        # One purchase, retried with the same id until it is answered, as a POS does: a 503
        # followed by a later application of it cannot count twice.
        body = harness.purchase_body("k-e-1", member, [harness.line("a", "food", 100)])
        while True:
            answer = survivor.request("POST", "/v1/events/purchase", body, key=harness.POS_KEY)
            if answer.status in (200, 201):
                break
            self.assertEqual(answer.status, 503, answer)  # waits, or 503: never a wrong answer
            self.assertLess(time.time() - killed_at, 30)
            time.sleep(0.1)
        took = time.time() - killed_at
        self.acknowledged[member] += answer.json["points_earned"]
        print(f"\nfailover: first 2xx {took:.2f} s after the kill", file=sys.stderr)
        self.assertLessEqual(took, LEASE_SECONDS + 2)

        # The node comes back: it applies again, as a standby or an owner, and all agree.
        restarted = subprocess.run([SCRIPT, "start", "--dir", self.dir, victim_name],
                                   capture_output=True, text=True, timeout=120)
        self.assertEqual(restarted.returncode, 0, restarted.stderr)
        owners = self.wait_for_owners()
        self.assertGreaterEqual(sum(self.cluster(self.nodes[n])["failovers"]
                                    for n in self.nodes if n != victim_name), 1)

        # Every acknowledged purchase is in the member's balance, once, at its owner.
        owner = self.nodes[owners[partition_of(member)]]
        deadline = time.time() + 20
        while True:
            view = owner.request("GET", f"/v1/members/{member}")
            if view.status == 200 and view.json["balance"]["available"] == self.acknowledged[member]:
                break
            self.assertLess(time.time(), deadline, view)
            time.sleep(0.2)

    def test_3_every_nodes_books_balance(self):
        subprocess.run([SCRIPT, "down", "--dir", self.dir], timeout=120, check=True)
        for name in sorted(self.nodes):
            data = os.path.join(self.dir, name, "data")
            verified = harness.ctl("verify", "--data", data)
            self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)


if __name__ == "__main__":
    unittest.main()
