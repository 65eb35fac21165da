"""A Jepsen-style check of cluster mode against the real processes (issue 16): clients send a
mixed load (sign-ups with referral codes, purchases, refunds, redemptions) to random nodes and
record every answer, while a nemesis, at random moments, SIGKILLs a loyaltyd node and starts it
again, SIGSTOPs one past its lease and resumes it, kills a NATS server and starts it again, and
kills etcd and starts it again. While it runs, a read begun after an acknowledged purchase
must show it, on whichever node answers (right after a pause, the resumed node is asked first:
it must no longer answer for the partitions it lost). Afterwards every request is sent again,
and:
- every acknowledged (2xx) answer comes back as the same replay;
- nothing is applied twice (no ledger entry repeated), nothing acknowledged is missing from
  its member's ledger, and each ledger's newest balance is the member's balance;
- each referral reward is in the referrer's ledger exactly once per rewarded referee;
- `loyaltyctl verify` passes on every node's data folder.
NEMESIS_EVENTS sets how many faults (CI: 10; scripts/nemesis-long.sh: 200), NEMESIS_SEED the
random seed (printed, so a failing run can be repeated)."""
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import harness  # noqa: E402

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "cluster.sh")
PARTITIONS = 8
LEASE_SECONDS = 5
EVENTS = int(os.environ.get("NEMESIS_EVENTS", "10"))
SEED = int(os.environ.get("NEMESIS_SEED", str(int(time.time()))))
CLIENTS = 4


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="loyalty-nemesis-")
        up = subprocess.run([SCRIPT, "up", "--dir", self.dir, "--nodes", "3", "--partitions",
                             str(PARTITIONS)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LOYALTYD": harness.LOYALTYD})
        if up.returncode != 0:
            raise RuntimeError("cluster.sh up failed:\n" + up.stdout + up.stderr)
        self.ports = {}
        for line in up.stdout.splitlines():
            kind, name, url, _, _ = line.split()
            if kind == "loyaltyd":
                self.ports[name] = int(url.rsplit(":", 1)[1])

    def pid(self, name):
        with open(os.path.join(self.dir, name + ".pid")) as f:
            return int(f.read())

    def start(self, name):
        started = subprocess.run([SCRIPT, "start", "--dir", self.dir, name],
                                 capture_output=True, text=True, timeout=180)
        if started.returncode != 0:
            raise RuntimeError(f"cluster.sh start {name}: {started.stdout}{started.stderr}")

    def down(self):
        subprocess.run([SCRIPT, "down", "--dir", self.dir], capture_output=True, timeout=300)


def send(port, method, path, body, key, timeout=10):
    """One request; None when the node did not answer (killed, paused, refused)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {key}"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        status, text = response.status, response.read().decode(errors="replace")
        return status, (json.loads(text) if text else None)
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Nemesis(threading.Thread):
    """Faults one after another, each at a random moment, until `events` have happened."""

    def __init__(self, cluster, rng, events, shared):
        super().__init__(daemon=True)
        self.cluster, self.rng, self.events, self.shared = cluster, rng, events, shared
        self.done = []
        self.error = None

    def run(self):
        try:
            kinds = []
            for _ in range(self.events):
                time.sleep(self.rng.uniform(0.5, 2.0))
                if not kinds:  # every kind once in each round of four, in a random order
                    kinds = ["kill", "pause", "nats", "etcd"]
                    self.rng.shuffle(kinds)
                kind = kinds.pop()
                self.done.append(kind)
                if kind == "kill":
                    name = self.rng.choice(sorted(self.cluster.ports))
                    os.kill(self.cluster.pid(name), signal.SIGKILL)
                    time.sleep(self.rng.uniform(0.5, 3))
                    self.cluster.start(name)
                elif kind == "pause":
                    name = self.rng.choice(sorted(self.cluster.ports))
                    pid = self.cluster.pid(name)
                    os.kill(pid, signal.SIGSTOP)
                    time.sleep(LEASE_SECONDS + self.rng.uniform(1, 3))  # past its lease
                    # Its partitions have other owners now: the clients' reads go to it first
                    # for a while, where a node still acting as their owner would show old state.
                    with self.shared["lock"]:
                        self.shared["resumed"] = (self.cluster.ports[name], time.time() + 3)
                    os.kill(pid, signal.SIGCONT)
                elif kind == "nats":
                    name = f"nats-{self.rng.randint(1, 3)}"
                    os.kill(self.cluster.pid(name), signal.SIGKILL)
                    time.sleep(self.rng.uniform(1, 3))
                    self.cluster.start(name)
                else:
                    os.kill(self.cluster.pid("etcd-1"), signal.SIGKILL)
                    time.sleep(self.rng.uniform(0.5, 2))
                    self.cluster.start("etcd-1")
                time.sleep(1)  # a moment with everything up, so the load makes progress
        except Exception as error:  # noqa: BLE001 (reported by the test)
            self.error = error


class Client(threading.Thread):
    """One client's members and requests; every request is kept with every answer it got."""

    def __init__(self, index, cluster, rng, stop, shared):
        super().__init__(daemon=True)
        self.index, self.cluster, self.rng, self.stop, self.shared = index, cluster, rng, stop, shared
        self.requests = []  # {method, path, body, key, answers: [(status, json)]}
        self.members = []
        self.counter = 0
        self.reads = 0   # reads made right after an acknowledged purchase
        self.stale = []  # those that did not show it

    def next_id(self, kind):
        self.counter += 1
        return f"nm{self.index}-{kind}-{self.counter}"

    def call(self, method, path, body, key, seconds=20):
        """As a POS or app does: the same request again on 503 or silence, on any node."""
        request = {"method": method, "path": path, "body": body, "key": key, "answers": []}
        self.requests.append(request)
        deadline = time.time() + seconds
        while True:
            port = self.cluster.ports[self.rng.choice(sorted(self.cluster.ports))]
            answer = send(port, method, path, body, key)
            if answer is not None:
                request["answers"].append(answer)
                if answer[0] != 503:
                    return answer
            if time.time() > deadline:
                return answer
            time.sleep(0.2)

    def read_after_write(self, member, event):
        """A read begun after a write was acknowledged shows it, on any node (cluster.md);
        right after a pause, on the node that was paused first."""
        with self.shared["lock"]:
            port, until = self.shared.get("resumed", (None, 0))
        if port is None or time.time() > until:
            port = self.cluster.ports[self.rng.choice(sorted(self.cluster.ports))]
        page = send(port, "GET", f"/v1/members/{member}/ledger?limit=500", None,
                    harness.ADMIN_KEY)
        if page is None or page[0] != 200 or page[1].get("next_cursor"):
            return  # no answer (503 or silence) is allowed; a wrong one is not
        self.reads += 1
        if not any(e["reference"] == event for e in page[1]["entries"]):
            self.stale.append((port, member, event))

    def run(self):
        while not self.stop.is_set():
            action = self.rng.random()
            if not self.members or action < 0.1:
                member = self.next_id("m")
                body = {"member_id": member}
                with self.shared["lock"]:
                    codes = list(self.shared["codes"])
                if codes and self.rng.random() < 0.5:
                    body["referral_code"] = self.rng.choice(codes)
                answer = self.call("POST", "/v1/members", body, harness.APP_KEY)
                if answer and answer[0] == 201:
                    self.members.append(member)
                    with self.shared["lock"]:
                        self.shared["codes"].append(answer[1]["referral_code"])
            elif action < 0.7:
                member = self.rng.choice(self.members)
                event = self.next_id("e")
                amount = self.rng.choice([1000, 3200, 6400, 12800])
                body = harness.purchase_body(event, member, [harness.line("a", "food", amount)])
                answer = self.call("POST", "/v1/events/purchase", body, harness.POS_KEY)
                if answer and answer[0] == 200:
                    self.shared.setdefault("purchases", []).append((event, amount))
                    if answer[1].get("points_earned"):
                        self.read_after_write(member, event)
            elif action < 0.85:
                purchases = self.shared.get("purchases") or []
                if not purchases:
                    continue
                original, amount = self.rng.choice(purchases)
                body = {"event_id": self.next_id("r"), "original_event_id": original,
                        "occurred_at": "2026-11-21T09:00:00Z",
                        "amount_minor": self.rng.randint(1, amount // 2)}
                self.call("POST", "/v1/events/refund", body, harness.POS_KEY)
            else:
                member = self.rng.choice(self.members)
                body = {"redemption_id": self.next_id("d"), "points": 100}
                self.call("POST", f"/v1/members/{member}/redemptions", body, harness.POS_KEY)


def acknowledged(answers):
    """The first 2xx answer a request got, if any."""
    return next((a for a in answers if a[0] in (200, 201)), None)


def same_effect(first, again):
    """A replay repeats what the first answer said the request did."""
    fields = ("member_id", "points_earned", "points_redeemed", "points_reversed",
              "points_restored", "points", "referral_code", "referred_by")
    return all(first.get(f) == again.get(f) for f in fields if f in first)


class NemesisTest(unittest.TestCase):
    def test_nothing_acknowledged_is_lost_and_nothing_is_applied_twice(self):
        print(f"\nnemesis: seed {SEED}, {EVENTS} events", file=sys.stderr)
        rng = random.Random(SEED)
        cluster = Cluster()
        try:
            self.check(cluster, rng)
        finally:
            cluster.down()

    def check(self, cluster, rng):
        stop = threading.Event()
        shared = {"lock": threading.Lock(), "codes": []}
        clients = [Client(i, cluster, random.Random(rng.random()), stop, shared)
                   for i in range(CLIENTS)]
        nemesis = Nemesis(cluster, random.Random(rng.random()), EVENTS, shared)
        for client in clients:
            client.start()
        nemesis.start()
        nemesis.join()
        stop.set()
        for client in clients:
            client.join(timeout=120)
        self.assertIsNone(nemesis.error, nemesis.error)
        requests = [r for c in clients for r in c.requests]
        acked = sum(1 for r in requests if acknowledged(r["answers"]))
        # A run where nothing got through, or a fault kind never came, proves nothing.
        self.assertGreaterEqual(acked, 20 * EVENTS, "too little was acknowledged under faults")
        if EVENTS >= 4:
            self.assertEqual(set(nemesis.done), {"kill", "pause", "nats", "etcd"})
        reads = sum(c.reads for c in clients)
        stale = [s for c in clients for s in c.stale]
        print(f"nemesis: {len(nemesis.done)} faults {sorted(set(nemesis.done))}, "
              f"{len(requests)} requests, {acked} acknowledged, {reads} reads after writes",
              file=sys.stderr)
        self.assertEqual(stale, [], "reads that missed a write acknowledged before them")
        self.assertGreater(reads, 0)

        # Everything up again: every request once more, on any node.
        ports = sorted(cluster.ports.values())
        for request in requests:
            deadline = time.time() + 60
            while True:
                again = send(rng.choice(ports), request["method"], request["path"],
                             request["body"], request["key"])
                if again is not None and again[0] != 503:
                    break
                self.assertLess(time.time(), deadline, f"no answer for {request['path']}")
                time.sleep(0.2)
            first = acknowledged(request["answers"])
            if first is not None:
                self.assertIn(again[0], (200, 201), (request, again))
                if request["path"] != "/v1/members":  # a sign-up's replay is 201 as well
                    self.assertTrue(again[1].get("replayed"), (request, again))
                self.assertTrue(same_effect(first[1], again[1]), (request, first, again))
            request["final"] = again

        # Each member's ledger: no entry twice, every acknowledged change in it, its newest
        # balance the member's balance; each referral reward once per rewarded referee.
        members = [m for c in clients for m in c.members]
        references = {}
        for member in members:
            entries, cursor = [], None
            while True:
                path = f"/v1/members/{member}/ledger?limit=500" + (
                    f"&cursor={cursor}" if cursor else "")
                page = send(rng.choice(ports), "GET", path, None, harness.ADMIN_KEY)
                self.assertIsNotNone(page)
                self.assertEqual(page[0], 200, page)
                entries += page[1]["entries"]
                cursor = page[1]["next_cursor"]
                if not cursor:
                    break
            seen = set()
            for entry in entries:
                key = (entry["type"], entry["reference"], entry["rule"], entry["points"])
                self.assertNotIn(key, seen, f"{member}: applied twice: {entry}")
                seen.add(key)
                references.setdefault(entry["reference"], set()).add(member)
            view = send(rng.choice(ports), "GET", f"/v1/members/{member}", None,
                        harness.APP_KEY)
            self.assertEqual(view[0], 200, view)
            if entries:
                # (No holds in this load: the ledger's balance is the available one.)
                self.assertEqual(entries[0]["balance_after"], view[1]["balance"]["available"],
                                 member)
            rewards = [e for e in entries if e["type"] == "referral_bonus" and
                       e["rule"] not in ("referral:first_purchase", "referral:signup")]
            referrals = send(rng.choice(ports), "GET", f"/v1/members/{member}/referrals", None,
                             harness.ADMIN_KEY)
            self.assertEqual(referrals[0], 200, referrals)
            rewarded = [r for r in referrals[1]["referred"]
                        if r["status"] in ("rewarded", "reversed")]
            self.assertEqual(len(rewards), len(rewarded), (member, rewards, rewarded))
        for request in requests:
            final = request["final"]
            if final[0] not in (200, 201) or request["path"] == "/v1/members":
                continue
            reference = (request["body"].get("event_id") or request["body"].get("redemption_id"))
            moved = any(final[1].get(f) for f in ("points_earned", "points_reversed", "points"))
            if moved:
                self.assertIn(reference, references, f"acknowledged but not in a ledger: {request}")
                self.assertEqual(len(references[reference]), 1, reference)

        cluster.down()
        for name in sorted(cluster.ports):
            verified = harness.ctl("verify", "--data", os.path.join(cluster.dir, name, "data"))
            self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)


if __name__ == "__main__":
    unittest.main()
