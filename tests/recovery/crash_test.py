"""Crash test: the real loyaltyd under a mixed load from several clients, killed with SIGKILL at
random moments and restarted on the same data folder, again and again. Every client records
what it sent and every answer it got. At the end everything ever sent is sent again, and:

- every acknowledged request (a 2xx answer) comes back as a replay with the same answer;
- each member's ledger is what the final answers say, reference by reference: nothing applied
  twice, nothing lost, and the referrer's reward for each qualifying purchase exactly once;
- each member's balance is the sum the answers imply (held: the holds still open);
- after a clean stop, `loyaltyctl verify` and `loyaltyctl replay` pass.

Run by CTest (label `recovery`) with short cycles in both durability modes (for `wal`, process
kills only: a process crash is what that mode survives). Long runs: tests/recovery/crash-long.sh.
    python3 crash_test.py --cycles 500 --durability both --seed 7
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from harness import APP_KEY, LOYALTYCTL, POS_KEY, SOURCE_DIR, Server  # noqa: E402

PROGRAM = """
[program]
id = "crash-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[earning.category_multipliers]
beverage = 2.0

[[milestones]]
purchase_count = 3
bonus_points = 30

[tiers]
metric = "spend"
window_months = 12
retain_months = 12

[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 20000
multiplier = 1.5

[referral]
referee_first_purchase_points = 50
referrer_points = 200
qualifying_min_amount_minor = 1000
window_days = 3650
max_rewarded_referrals = 100000

[redemption]
points_per_currency_unit = 100
min_points = 10
hold_ttl_seconds = 2592000
"""
REFERRER_POINTS = 200
ADMIN_KEY = "loyalty-dev-admin-key"


def server_toml(durability):
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    assert 'durability = "fsync"' in text and "per_key_rps = 1000" in text
    # Rate limits off: the final resend is a burst, and a 429 is not what this test is about.
    return (text.replace('durability = "fsync"', f'durability = "{durability}"')
            .replace("per_key_rps = 1000", "per_key_rps = 0"))


def now_rfc3339():
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Target:
    """The running server's port; clients wait here while it is down."""

    def __init__(self):
        self.cond = threading.Condition()
        self.port = None
        self.generation = 0
        self.stopping = False

    def up(self, port):
        with self.cond:
            self.port = port
            self.generation += 1
            self.cond.notify_all()

    def down(self):
        with self.cond:
            self.port = None

    def wait_up(self, after_generation):
        """The port of a server started after `after_generation`, or None when stopping."""
        with self.cond:
            self.cond.wait_for(lambda: self.stopping or
                               (self.port is not None and self.generation > after_generation))
            return None if self.stopping else (self.port, self.generation)


class Connection:
    """One keep-alive HTTP connection; any failure to get a whole answer returns None."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, method, path, body, key):
        headers = {"Authorization": f"Bearer {key}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return None
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return response.status, parsed

    def close(self):
        self.conn.close()


class Op:
    """One request as sent, and its answers: the one seen under the load (if any) and the final
    one after the crashes."""

    def __init__(self, kind, method, path, body, key, member=None, items=None):
        self.kind = kind  # signup purchase refund redemption hold capture void batch
        self.method = method
        self.path = path
        self.body = body
        self.key = key
        self.member = member
        self.items = items  # batch: the item kinds, in order
        self.first = None  # (status, json) under the load, None when no answer came
        self.final = None

    def acknowledged(self):
        return self.first is not None and 200 <= self.first[0] < 300


class Client(threading.Thread):
    """A client that owns its members: sign-ups (half with a referral code from any client),
    purchases (some paying with points), refunds (some in full), redemptions, holds captured or
    voided, and batches of purchases and refunds. New requests build on acknowledged ones."""

    def __init__(self, number, seed, target, shared):
        super().__init__(daemon=True)
        self.number = number
        self.random = random.Random(seed * 1000 + number)
        self.target = target
        self.shared = shared  # {"lock", "codes"}
        self.ops = []
        self.members = []
        self.purchases = []  # (event_id, total)
        self.holds = []
        self.next_id = 0
        self.stop = threading.Event()

    def id(self, prefix):
        self.next_id += 1
        return f"c{self.number}-{prefix}{self.next_id}"

    def run(self):
        generation = 0
        while not self.stop.is_set():
            state = self.target.wait_up(generation)
            if state is None:
                return
            port, generation = state
            conn = Connection(port)
            while not self.stop.is_set():
                op = self.next_op()
                self.ops.append(op)
                answer = conn.send(op.method, op.path, op.body, op.key)
                op.first = answer
                if answer is None:
                    break  # the server is gone: wait for the next one
                self.learn(op)
            conn.close()

    # --- building requests -------------------------------------------------------------
    def purchase_body(self, member):
        body = {"event_id": self.id("p"), "member_id": member, "store_id": "s-1",
                "occurred_at": now_rfc3339(), "currency": "CNY",
                "lines": [{"sku": "latte", "category": "beverage", "quantity": 1,
                           "amount_minor": self.random.randint(400, 4000)},
                          {"sku": "bagel", "category": "food", "quantity": 1,
                           "amount_minor": self.random.randint(0, 3000)}]}
        if self.random.random() < 0.2:
            body["redeem_points"] = 10
        return body

    def refund_body(self):
        original, total = self.random.choice(self.purchases)
        amount = total if self.random.random() < 0.5 else self.random.randint(1, total)
        return {"event_id": self.id("r"), "original_event_id": original,
                "occurred_at": now_rfc3339(), "amount_minor": amount}

    def next_op(self):
        if len(self.members) < 2:
            choice = "signup"
        else:
            choice = self.random.choices(
                ["signup", "purchase", "refund", "redemption", "hold", "action", "batch"],
                [8, 35, 10, 10, 10, 10, 12])[0]
        if choice in ("refund",) and not self.purchases:
            choice = "purchase"
        if choice == "action" and not self.holds:
            choice = "hold"
        if choice == "signup":
            member = self.id("m")
            body = {"member_id": member}
            with self.shared["lock"]:
                codes = list(self.shared["codes"])
            if codes and self.random.random() < 0.5:
                body["referral_code"] = self.random.choice(codes)
            return Op("signup", "POST", "/v1/members", body, APP_KEY, member=member)
        if choice == "purchase":
            body = self.purchase_body(self.random.choice(self.members))
            return Op("purchase", "POST", "/v1/events/purchase", body, POS_KEY,
                      member=body["member_id"])
        if choice == "refund":
            return Op("refund", "POST", "/v1/events/refund", self.refund_body(), POS_KEY)
        if choice == "redemption":
            member = self.random.choice(self.members)
            body = {"redemption_id": self.id("x"), "points": self.random.randint(10, 60)}
            return Op("redemption", "POST", f"/v1/members/{member}/redemptions", body, APP_KEY,
                      member=member)
        if choice == "hold":
            member = self.random.choice(self.members)
            body = {"hold_id": self.id("h"), "member_id": member,
                    "points": self.random.randint(10, 40)}
            return Op("hold", "POST", "/v1/holds", body, POS_KEY, member=member)
        if choice == "action":
            hold_id = self.random.choice(self.holds)
            action = self.random.choice(["capture", "void"])
            return Op(action, "POST", f"/v1/holds/{hold_id}:{action}", {}, POS_KEY)
        items, kinds = [], []
        for _ in range(self.random.randint(2, 5)):
            if self.purchases and self.random.random() < 0.3:
                items.append({"type": "refund", **self.refund_body()})
                kinds.append("refund")
            else:
                items.append({"type": "purchase",
                              **self.purchase_body(self.random.choice(self.members))})
                kinds.append("purchase")
        return Op("batch", "POST", "/v1/events:batch", items, POS_KEY, items=kinds)

    # --- learning from acknowledged answers -----------------------------------------------
    def learn_one(self, kind, body, status, answer):
        if not 200 <= status < 300 or answer is None:
            return
        if kind == "signup":
            self.members.append(body["member_id"])
            with self.shared["lock"]:
                self.shared["codes"].append(answer["referral_code"])
        elif kind == "purchase":
            self.purchases.append((body["event_id"],
                                   sum(line["amount_minor"] for line in body["lines"])))
        elif kind == "hold":
            self.holds.append(body["hold_id"])
        elif kind in ("capture", "void"):
            hold_id = answer["hold_id"]
            if hold_id in self.holds:
                self.holds.remove(hold_id)

    def learn(self, op):
        status, answer = op.first
        if op.kind != "batch":
            self.learn_one(op.kind, op.body, status, answer)
        elif status == 200 and answer is not None:
            for kind, item, result in zip(op.items, op.body, answer["results"]):
                self.learn_one(kind, item, result["status"], result)


def without(answer, *keys):
    return {k: v for k, v in answer.items() if k not in keys}


class CrashRun:
    """One crash test: `cycles` SIGKILLs of loyaltyd under load, then the final checks.
    Raises AssertionError naming the first problem found."""

    def __init__(self, durability, cycles, seed, clients=4, log=print):
        self.durability = durability
        self.cycles = cycles
        self.seed = seed
        self.client_count = clients
        self.log = log
        self.random = random.Random(seed)
        self.problems = []
        self.rewards = 0

    def problem(self, text):
        self.problems.append(text)

    def run(self):
        server = Server(server_toml=server_toml(self.durability), program_toml=PROGRAM)
        try:
            return self.run_on(server)
        finally:
            server.cleanup()

    def run_on(self, server):
        started = time.time()
        target = Target()
        shared = {"lock": threading.Lock(), "codes": []}
        clients = [Client(n, self.seed, target, shared) for n in range(self.client_count)]
        for client in clients:
            client.start()
        server.start()
        target.up(server.port)
        for cycle in range(self.cycles):
            # Short cycles: the kill lands anywhere from the first requests to a busy moment.
            time.sleep(self.random.uniform(0.02, 0.35))
            target.down()
            code = server.stop(signal.SIGKILL)
            assert code == -signal.SIGKILL, f"cycle {cycle}: loyaltyd exited {code} before the kill"
            server.start()
            target.up(server.port)
        time.sleep(0.2)
        for client in clients:
            client.stop.set()
        with target.cond:
            target.stopping = True
            target.cond.notify_all()
        for client in clients:
            client.join(timeout=60)
            assert not client.is_alive(), "a client did not stop"

        ops = [op for client in clients for op in client.ops]
        acknowledged = sum(op.acknowledged() for op in ops)
        answered = sum(op.first is not None for op in ops)
        self.resend_everything(server, clients)
        self.check_replays(ops)
        self.check_ledgers_and_balances(server, clients)
        code = server.stop()
        assert code == 0, f"clean stop expected, got {code}: {server.read_log()[-2000:]}"
        self.check_offline(server)
        summary = (f"{self.durability}: {self.cycles} kill cycles survived, {len(ops)} requests "
                   f"({acknowledged} acknowledged before a kill, {len(ops) - answered} cut off "
                   f"by one), {self.rewards} referral rewards, seed {self.seed}, "
                   f"{time.time() - started:.1f} s")
        if self.problems:
            raise AssertionError(f"{summary}\n" + "\n".join(self.problems[:40]))
        self.log(summary)
        return summary

    def resend_everything(self, server, clients):
        """Every client sends all its requests again, in its order; each gets its final answer."""
        def resend(client):
            conn = Connection(server.port)
            for op in client.ops:
                op.final = conn.send(op.method, op.path, op.body, op.key)
                if op.final is None:
                    conn = Connection(server.port)
                    op.final = conn.send(op.method, op.path, op.body, op.key)
            conn.close()
        threads = [threading.Thread(target=resend, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for client in clients:
            for op in client.ops:
                if op.final is None or op.final[0] >= 500:
                    self.problem(f"{op.method} {op.path}: final answer {op.final}")

    def check_replays(self, ops):
        """Every acknowledged request is answered as a replay with the same answer."""
        for op in ops:
            if not op.acknowledged() or op.final is None:
                continue
            (s1, a1), (s2, a2) = op.first, op.final
            name = f"{op.method} {op.path} {json.dumps(op.body)[:120]}"
            if op.kind == "batch":
                if s2 != 200:
                    self.problem(f"{name}: batch answered {s2} after {s1}")
                    continue
                for r1, r2 in zip(a1["results"], a2["results"]):
                    if not 200 <= r1["status"] < 300:
                        continue
                    if r2["status"] != 200 or r2.get("replayed") is not True:
                        self.problem(f"{name} item {r1['index']}: lost, now {r2}")
                    elif without(r1, "replayed", "status") != without(r2, "replayed", "status"):
                        self.problem(f"{name} item {r1['index']}: {r1} became {r2}")
                continue
            if s2 != 200 or a2 is None or a2.get("replayed") is not True:
                self.problem(f"{name}: acknowledged ({s1}) but lost: now {s2} {a2}")
            elif op.kind == "signup":
                for field in ("member_id", "referral_code", "referred_by", "joined_at"):
                    if a1.get(field) != a2.get(field):
                        self.problem(f"{name}: {field} {a1.get(field)} became {a2.get(field)}")
            elif without(a1, "replayed") != without(a2, "replayed"):
                self.problem(f"{name}: answer {a1} became {a2}")

    def expectations(self, clients):
        """From the final answers: the Σ of ledger points each reference must have per member,
        and the points of the holds still open per member."""
        expected = {}  # member -> {reference: points}
        held = {}
        purchase_member = {}
        referrer_of = {}
        hold_member, hold_points, settled = {}, {}, {}

        def add(member, reference, points):
            expected.setdefault(member, {}).setdefault(reference, 0)
            expected[member][reference] += points

        def item_answers(op):
            status, answer = op.final
            if op.kind != "batch":
                yield op.kind, op.body, status, answer
            elif status == 200:
                for kind, body, result in zip(op.items, op.body, answer["results"]):
                    yield kind, body, result["status"], result

        all_ops = [op for client in clients for op in client.ops]
        for op in all_ops:
            for kind, body, status, answer in item_answers(op):
                if not 200 <= status < 300:
                    continue
                if kind == "signup":
                    expected.setdefault(body["member_id"], {})
                    if answer.get("referred_by"):
                        referrer_of[body["member_id"]] = answer["referred_by"]
                elif kind == "purchase":
                    purchase_member[body["event_id"]] = answer["member_id"]
                    add(answer["member_id"], body["event_id"],
                        answer["points_earned"] - answer["points_redeemed"])
                    if any(b["rule"] == "referral:first_purchase" for b in answer["breakdown"]):
                        referrer = referrer_of[answer["member_id"]]
                        add(referrer, "referral:" + body["event_id"], REFERRER_POINTS)
                elif kind == "refund":
                    add(answer["member_id"], body["event_id"], -answer["points_reversed"]
                        + answer["points_restored"] - answer["referral_reversed"])
                    if answer["referral_reversed"] > 0:
                        referrer = referrer_of[answer["member_id"]]
                        add(referrer, "referral-reversal:" + body["original_event_id"],
                            -REFERRER_POINTS)
                elif kind == "redemption":
                    add(answer["member_id"], body["redemption_id"], -answer["points"])
                elif kind == "hold":
                    hold_member[body["hold_id"]] = answer["member_id"]
                    hold_points[body["hold_id"]] = answer["points"]
                    add(answer["member_id"], body["hold_id"], 0)
                elif kind in ("capture", "void"):
                    settled[answer["hold_id"]] = kind
        for hold_id, member in hold_member.items():
            if settled.get(hold_id) == "capture":
                add(member, hold_id, -hold_points[hold_id])
            elif hold_id not in settled:
                held[member] = held.get(member, 0) + hold_points[hold_id]
        return expected, held

    def check_ledgers_and_balances(self, server, clients):
        expected, held = self.expectations(clients)
        self.rewards = sum(reference.startswith("referral:")
                           for references in expected.values() for reference in references)
        conn = Connection(server.port)
        for member, references in sorted(expected.items()):
            entries, cursor = [], None
            while True:
                path = f"/v1/members/{member}/ledger?limit=500"
                if cursor is not None:
                    path += f"&cursor={cursor}"
                status, page = conn.send("GET", path, None, ADMIN_KEY)
                assert status == 200, f"ledger of {member}: {status} {page}"
                entries += page["entries"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            sums, seen = {}, set()
            for entry in entries:
                sums[entry["reference"]] = sums.get(entry["reference"], 0) + entry["points"]
                kind = (entry["reference"], entry["type"], entry["rule"])
                if kind in seen:
                    self.problem(f"{member}: applied twice: {kind}")
                seen.add(kind)
            for reference in sorted(set(sums) - set(references)):
                self.problem(f"{member}: ledger entries for {reference}, which no answer names")
            for reference in sorted(set(sums) | set(references)):
                if sums.get(reference, 0) != references.get(reference, 0):
                    self.problem(f"{member}: ledger has {sums.get(reference, 0)} for {reference}, "
                                 f"the answers say {references.get(reference, 0)}")
            status, view = conn.send("GET", f"/v1/members/{member}", None, ADMIN_KEY)
            assert status == 200, f"member {member}: {status} {view}"
            balance = view["balance"]
            total = balance["available"] + balance["pending"] + balance["held"]
            if total != sum(references.values()) or balance["held"] != held.get(member, 0):
                self.problem(f"{member}: balance {balance}, the answers say total "
                             f"{sum(references.values())}, held {held.get(member, 0)}")
        conn.close()

    def check_offline(self, server):
        verify = subprocess.run([LOYALTYCTL, "verify", "--data", server.data_dir],
                                capture_output=True, text=True, timeout=300)
        if verify.returncode != 0:
            self.problem(f"loyaltyctl verify: {verify.returncode} {verify.stdout} {verify.stderr}")
        into = tempfile.mkdtemp(prefix="loyalty-crash-replay-")
        try:
            replay = subprocess.run(
                [LOYALTYCTL, "replay", "--data", server.data_dir, "--into",
                 os.path.join(into, "rebuilt")], capture_output=True, text=True, timeout=300)
            if replay.returncode != 0:
                self.problem(f"loyaltyctl replay: {replay.returncode} {replay.stdout} "
                             f"{replay.stderr}")
        finally:
            shutil.rmtree(into, ignore_errors=True)


class CrashTest(unittest.TestCase):
    """The CI variant: short cycles in both durability modes."""
    CYCLES = int(os.environ.get("LOYALTY_CRASH_CYCLES", "30"))
    SEED = int(os.environ.get("LOYALTY_CRASH_SEED", str(int(time.time()))))

    def test_fsync_durability_survives_sigkill(self):
        CrashRun("fsync", self.CYCLES, self.SEED, log=lambda s: print(s, file=sys.stderr)).run()

    def test_wal_durability_survives_sigkill(self):
        CrashRun("wal", self.CYCLES, self.SEED + 1, log=lambda s: print(s, file=sys.stderr)).run()


def main():
    parser = argparse.ArgumentParser(description="SIGKILL loyaltyd under load, then check.")
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--durability", choices=["fsync", "wal", "both"], default="both")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    modes = ["fsync", "wal"] if args.durability == "both" else [args.durability]
    failed = False
    for mode in modes:
        try:
            CrashRun(mode, args.cycles, args.seed, clients=args.clients).run()
        except AssertionError as error:
            print(f"FAILED {mode}: {error}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
