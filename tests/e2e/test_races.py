"""Races: many clients at once against the same three members of the real loyaltyd, over HTTP
keep-alive connections and WebSocket ingest sockets, redeeming, holding, capturing and voiding
(the same hold from several clients), purchasing (some paying with points) and refunding (the
same purchase from several clients, in full and in parts), and resending earlier requests with
the same ids while the originals may still be in flight. Every client records every answer.

Then, from the acknowledged answers only (a refusal counts for nothing):
- every request was answered, within REQUEST_TIMEOUT (a deadlock or a lost answer fails);
- each id was applied at most once: one fresh success, every other success a replay with the
  same answer; a capture and a void of one hold never both succeed; refusals are the expected
  ones (insufficient_points, hold_not_active, refund_exceeds_purchase) and left nothing behind;
- no overspend: walking each member's ledger in order, every redemption and hold was covered
  by the points available just before it, and the total spent never exceeds what was credited;
- no lost update: each member's ledger holds, reference by reference, exactly what the answers
  say, each answer's balance is the ledger's state right after that change, and the final
  balance (GET /v1/members/{id}) is what the answers add up to; Σ ledger = the balance;
- refunds of one purchase add up: never more than the purchase, and `remaining_minor` is what
  the successful refunds leave;
- a random subset of everything is sent again at the end and answers as a replay, the same;
- `loyaltyctl verify` passes on the data folder after a clean stop.

Size: LOYALTY_RACE_OPS requests in all (default 4000: about 5 s in Release, 30 s under
AddressSanitizer), LOYALTY_RACE_SEED to repeat a run. A long run (README "Tests"):
    LOYALTY_RACE_OPS=200000 python3 -m unittest -v test_races
"""
import asyncio
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone

import websockets

from harness import ADMIN_KEY, APP_KEY, LOYALTYCTL, POS_KEY, SOURCE_DIR, Server

OPS = int(os.environ.get("LOYALTY_RACE_OPS", "4000"))
SEED = int(os.environ.get("LOYALTY_RACE_SEED", str(int(time.time()))))
HTTP_CLIENTS = 12
WS_CLIENTS = 6
WS_WINDOW = 4  # events a WebSocket client keeps in flight (answered in order)
REQUEST_TIMEOUT = 30  # seconds: an answer later than this is a hang
MEMBERS = ["race-m0", "race-m1", "race-m2"]
SEED_POINTS = 300

# No expiry, no pending days, no referrals, no tiers: what the numbers are comes from the answers
# anyway; what matters is that nothing but these requests moves a balance.
PROGRAM = """
[program]
id = "race-club"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[earning.category_multipliers]
beverage = 2.0

[[milestones]]
purchase_count = 40
bonus_points = 25

[redemption]
points_per_currency_unit = 100
min_points = 10
max_redeem_fraction = 0.5
hold_ttl_seconds = 2592000
"""

# What a refused request of each kind may answer: the refusals a race can cause.
EXPECTED_REFUSALS = {
    "purchase": {(422, "insufficient_points")},
    "refund": {(422, "refund_exceeds_purchase")},
    "redemption": {(422, "insufficient_points")},
    "hold": {(422, "insufficient_points")},
    "capture": {(409, "hold_not_active")},
    "void": {(409, "hold_not_active")},
}


def server_toml():
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    assert "per_key_rps = 1000" in text
    return text.replace("per_key_rps = 1000", "per_key_rps = 0")  # 429 is not the subject


def now_rfc3339():
    moment = datetime.now(timezone.utc) - timedelta(seconds=2)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def without(answer, *keys):
    return {k: v for k, v in answer.items() if k not in keys}


def same_answer(a, b):
    """Equal apart from how it was delivered: replayed, 201 vs 200, a WebSocket frame's op,
    status and index."""
    drop = ("replayed", "op", "status", "index")
    return without(a, *drop) == without(b, *drop)


class Op:
    """One logical request (kind + client id + body); each send of it is an attempt."""

    def __init__(self, kind, key, method, path, body, credential, member=None):
        self.kind = kind  # purchase refund redemption hold capture void
        self.key = key  # (kind, id): what the server deduplicates on
        self.method = method
        self.path = path
        self.body = body
        self.credential = credential
        self.member = member
        self.attempts = []  # (status, answer or None, via); status None: no answer in time


class Shared:
    """What the clients know from acknowledged answers, and every op ever made."""

    def __init__(self):
        self.lock = threading.Lock()
        self.purchases = []  # (event_id, total_minor)
        self.holds = []  # hold ids, newest last
        self.ops = []
        self.failures = []  # client-side crashes: the test fails with them


class Client:
    def __init__(self, number, shared, budget):
        self.number = number
        self.random = random.Random(SEED * 1000 + number)
        self.shared = shared
        self.budget = budget
        self.next_id = 0

    def new_id(self, prefix):
        self.next_id += 1
        return f"c{self.number}-{prefix}{self.next_id}"

    def purchase_op(self):
        member = self.random.choice(MEMBERS)
        body = {"event_id": self.new_id("p"), "member_id": member, "store_id": "s-1",
                "occurred_at": now_rfc3339(), "currency": "CNY",
                "lines": [{"sku": "latte", "category": "beverage", "quantity": 1,
                           "amount_minor": self.random.randint(500, 3000)},
                          {"sku": "bagel", "category": "food", "quantity": 1,
                           "amount_minor": self.random.randint(0, 2000)}]}
        if self.random.random() < 0.15:
            body["redeem_points"] = self.random.randint(10, 40)
        return Op("purchase", ("event", body["event_id"]), "POST", "/v1/events/purchase", body,
                  POS_KEY, member)

    def refund_op(self):
        with self.shared.lock:
            recent = self.shared.purchases[-8:]
        if not recent:
            return self.purchase_op()
        original, total = self.random.choice(recent)
        amount = total if self.random.random() < 0.35 else self.random.randint(1, total // 2)
        body = {"event_id": self.new_id("r"), "original_event_id": original,
                "occurred_at": now_rfc3339(), "amount_minor": amount}
        return Op("refund", ("event", body["event_id"]), "POST", "/v1/events/refund", body,
                  POS_KEY)

    def retry_op(self, kinds):
        """An earlier op, possibly another client's and still in flight: the same id again."""
        with self.shared.lock:
            candidates = [op for op in self.shared.ops[-200:] if op.kind in kinds]
        return self.random.choice(candidates) if candidates else None

    def record(self, op):
        with self.shared.lock:
            self.shared.ops.append(op)

    def learn(self, op, status, answer):
        if status is None or not 200 <= status < 300 or answer is None:
            return
        with self.shared.lock:
            if op.kind == "purchase" and not answer.get("replayed"):
                self.shared.purchases.append(
                    (op.body["event_id"], sum(x["amount_minor"] for x in op.body["lines"])))
            elif op.kind == "hold" and not answer.get("replayed"):
                self.shared.holds.append(op.body["hold_id"])


class HttpClient(Client, threading.Thread):
    """A POS / app terminal on one keep-alive connection: every kind of request."""

    def __init__(self, number, shared, budget, port):
        Client.__init__(self, number, shared, budget)
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.conn = None

    def send(self, op):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=REQUEST_TIMEOUT)
        headers = {"Authorization": f"Bearer {op.credential}",
                   "Content-Type": "application/json"}
        try:
            self.conn.request(op.method, op.path, body=json.dumps(op.body).encode(),
                              headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode()
        except (OSError, http.client.HTTPException) as error:
            self.conn.close()
            self.conn = None
            op.attempts.append((None, {"error": repr(error)}, "http"))
            return None, None
        answer = json.loads(text) if text else None
        op.attempts.append((response.status, answer, "http"))
        self.learn(op, response.status, answer)
        return response.status, answer

    def next_op(self):
        choice = self.random.choices(
            ["purchase", "redemption", "hold", "action", "refund", "retry"],
            [24, 20, 16, 20, 12, 8])[0]
        if choice == "retry":
            op = self.retry_op({"purchase", "refund", "redemption", "hold", "capture", "void"})
            if op is not None:
                return op, False
            choice = "purchase"
        if choice == "action":
            with self.shared.lock:
                recent = self.shared.holds[-6:]
            if recent:
                hold_id = self.random.choice(recent)
                action = self.random.choice(["capture", "void"])
                return Op(action, (action, hold_id), "POST", f"/v1/holds/{hold_id}:{action}",
                          {}, POS_KEY), True
            choice = "hold"
        if choice == "purchase":
            return self.purchase_op(), True
        if choice == "refund":
            return self.refund_op(), True
        member = self.random.choice(MEMBERS)
        if choice == "redemption":
            body = {"redemption_id": self.new_id("x"), "points": self.random.randint(10, 250)}
            return Op("redemption", ("redemption", body["redemption_id"]), "POST",
                      f"/v1/members/{member}/redemptions", body,
                      self.random.choice([APP_KEY, POS_KEY]), member), True
        body = {"hold_id": self.new_id("h"), "member_id": member,
                "points": self.random.randint(10, 150), "ttl_seconds": 2592000}
        return Op("hold", ("hold", body["hold_id"]), "POST", "/v1/holds", body, POS_KEY,
                  member), True

    def run(self):
        try:
            for _ in range(self.budget):
                op, fresh = self.next_op()
                if fresh:
                    self.record(op)
                self.send(op)
        except Exception as error:  # noqa: BLE001 - reported as a failure of the test
            with self.shared.lock:
                self.shared.failures.append(f"http client {self.number}: {error!r}")
        finally:
            if self.conn is not None:
                self.conn.close()


class WsClient(Client, threading.Thread):
    """A busy till streaming purchases and refunds on one WebSocket, WS_WINDOW in flight."""

    def __init__(self, number, shared, budget, port):
        Client.__init__(self, number, shared, budget)
        threading.Thread.__init__(self, daemon=True)
        self.port = port

    def next_op(self):
        choice = self.random.choices(["purchase", "refund", "retry"], [60, 30, 10])[0]
        if choice == "retry":
            op = self.retry_op({"purchase", "refund"})
            if op is not None:
                return op, False
        return (self.refund_op() if choice == "refund" else self.purchase_op()), True

    async def session(self):
        uri = f"ws://127.0.0.1:{self.port}/v1/stream"
        async with websockets.connect(uri, extra_headers={"Authorization": f"Bearer {POS_KEY}"},
                                      open_timeout=REQUEST_TIMEOUT,
                                      max_queue=None) as ws:
            in_flight = []
            sent = 0
            while sent < self.budget or in_flight:
                while sent < self.budget and len(in_flight) < WS_WINDOW:
                    op, fresh = self.next_op()
                    if fresh:
                        self.record(op)
                    kind = "purchase" if op.kind == "purchase" else "refund"
                    await ws.send(json.dumps({"op": "event", "event": {"type": kind, **op.body}}))
                    in_flight.append(op)
                    sent += 1
                op = in_flight.pop(0)
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), REQUEST_TIMEOUT))
                except asyncio.TimeoutError:
                    op.attempts.append((None, {"error": "no result in time"}, "ws"))
                    for rest in in_flight:
                        rest.attempts.append((None, {"error": "behind a hang"}, "ws"))
                    return
                if frame.get("op") != "result" or frame.get("event_id") != op.body["event_id"]:
                    raise AssertionError(f"results out of order: sent {op.key}, got {frame}")
                op.attempts.append((frame["status"], frame, "ws"))
                self.learn(op, frame["status"], frame)

    def run(self):
        try:
            asyncio.run(self.session())
        except Exception as error:  # noqa: BLE001 - reported as a failure of the test
            with self.shared.lock:
                self.shared.failures.append(f"ws client {self.number}: {error!r}")


class RaceRun:
    def __init__(self, test, server):
        self.test = test
        self.server = server
        self.problems = []
        self.stats = {}

    def problem(self, text):
        self.problems.append(text)

    def request(self, method, path, body=None, key=ADMIN_KEY):
        r = self.server.request(method, path, body, key=key)
        return r.status, r.json

    # --- running ----------------------------------------------------------------------------
    def run(self):
        for member in MEMBERS:
            status, _ = self.request("POST", "/v1/members", {"member_id": member})
            assert status == 201, status
            status, _ = self.request("POST", f"/v1/members/{member}/adjustments",
                                     {"adjustment_id": f"seed-{member}", "points": SEED_POINTS,
                                      "reason": "race test opening balance"})
            assert status == 201, status
        shared = Shared()
        clients = HTTP_CLIENTS + WS_CLIENTS
        budget = max(1, OPS // clients)
        threads = ([HttpClient(n, shared, budget, self.server.port)
                    for n in range(HTTP_CLIENTS)] +
                   [WsClient(HTTP_CLIENTS + n, shared, budget, self.server.port)
                    for n in range(WS_CLIENTS)])
        started = time.time()
        for thread in threads:
            thread.start()
        # A generous bound on the whole load: a deadlock shows up as threads still running.
        deadline = started + max(300, OPS * 0.2)
        for thread in threads:
            thread.join(timeout=max(1, deadline - time.time()))
        stuck = [t.number for t in threads if t.is_alive()]
        self.test.assertEqual(stuck, [], "clients still waiting for answers: a hang")
        self.test.assertEqual(shared.failures, [])
        self.stats["load_seconds"] = time.time() - started
        self.ops = shared.ops
        self.stats["attempts"] = sum(len(op.attempts) for op in self.ops)
        for op in self.ops:
            for status, answer, via in op.attempts:
                if status is None:
                    self.problem(f"{op.key} via {via}: no answer ({answer})")
                elif status >= 500:
                    self.problem(f"{op.key} via {via}: {status} {answer}")
        self.check_idempotency()
        self.resend_some()
        self.check_ledgers_and_balances()
        self.check_refunds()
        self.check_conflicts()
        code = self.server.stop()
        self.test.assertEqual(code, 0, "loyaltyd did not stop cleanly")
        verify = subprocess.run([LOYALTYCTL, "verify", "--data", self.server.data_dir],
                                capture_output=True, text=True, timeout=300)
        if verify.returncode != 0:
            self.problem(f"loyaltyctl verify: {verify.returncode} {verify.stdout[-2000:]} "
                         f"{verify.stderr[-2000:]}")
        self.stats["total_seconds"] = time.time() - started
        if self.problems:
            raise AssertionError(f"{len(self.problems)} problems (seed {SEED}):\n" +
                                 "\n".join(self.problems[:40]))
        return self.stats

    # --- what each id came to ----------------------------------------------------------------
    def check_idempotency(self):
        """Per id (several clients may have made the same capture or void, and retries resend
        an op): one fresh success at most, the other successes replays of it; refusals are the
        ones a race can cause. Sets self.applied: representative op -> its fresh answer."""
        self.applied = {}
        refusals = {}
        groups = {}
        for op in self.ops:
            groups.setdefault(op.key, []).append(op)
        for key, ops in groups.items():
            attempts = [attempt for op in ops for attempt in op.attempts]
            fresh = [a for s, a, _ in attempts if s is not None and 200 <= s < 300
                     and a.get("replayed") is False]
            replays = [a for s, a, _ in attempts if s is not None and 200 <= s < 300
                       and a.get("replayed") is not False]
            if len(fresh) > 1:
                self.problem(f"{key}: applied {len(fresh)} times: {fresh[:2]}")
            if replays and not fresh:
                self.problem(f"{key}: replayed but never applied: {replays[0]}")
            for replay in replays:
                if replay.get("replayed") is not True or (fresh and
                                                          not same_answer(fresh[0], replay)):
                    self.problem(f"{key}: replay {replay} differs from {fresh[0]}")
            if fresh:
                self.applied[ops[0]] = fresh[0]
            for status, answer, via in attempts:
                if status is not None and 400 <= status < 500:
                    code = (answer or {}).get("code")
                    refusals[(status, code)] = refusals.get((status, code), 0) + 1
                    if (status, code) not in EXPECTED_REFUSALS[ops[0].kind]:
                        self.problem(f"{key} via {via}: unexpected refusal {status} {answer}")
        self.applied_keys = {op.key: answer for op, answer in self.applied.items()}
        self.stats["refusals"] = {f"{s} {c}": n for (s, c), n in sorted(refusals.items())}
        # A hold is settled once: never captured and voided both.
        settled = {}
        for op in self.applied:
            if op.kind in ("capture", "void"):
                settled.setdefault(op.key[1], []).append(op.kind)
        both = {hold: kinds for hold, kinds in settled.items() if len(kinds) > 1}
        if both:
            self.problem(f"holds both captured and voided: {both}")
        # Holds that both a capture and a void were sent for: the races of two-phase redemption.
        self.stats["holds_contested"] = sum(
            1 for key in groups if key[0] == "capture" and ("void", key[1]) in groups)
        self.stats["duplicate_sends"] = self.stats["attempts"] - len(groups)
        self.stats["ops"] = len(groups)
        self.stats["applied"] = len(self.applied)

    def resend_some(self):
        """A random fifth of the ops, sent again: applied ones answer as replays, the same;
        a capture or void refused because the hold was settled is refused again. (Other
        refusals are judged afresh when resent, so they are not resent here.)"""
        rng = random.Random(SEED + 1)
        candidates = [op for op in self.ops
                      if op.key in self.applied_keys or op.kind in ("capture", "void")]
        sample = rng.sample(candidates, len(candidates) // 5)
        for op in sample:
            status, answer = self.request(op.method, op.path, op.body, key=op.credential)
            fresh = self.applied_keys.get(op.key)
            if fresh is not None:
                if status != 200 or answer.get("replayed") is not True or \
                        not same_answer(fresh, answer):
                    self.problem(f"{op.key} resent: {status} {answer}, first {fresh}")
            elif op.kind in ("capture", "void"):
                if (status, (answer or {}).get("code")) != (409, "hold_not_active"):
                    self.problem(f"{op.key} resent after a refusal: {status} {answer}")
        self.stats["resent"] = len(sample)

    def check_conflicts(self):
        """An applied id with another body is 409 idempotency_conflict and changes nothing."""
        before = {m: self.request("GET", f"/v1/members/{m}")[1]["balance"] for m in MEMBERS}
        redemptions = [op for op in self.applied if op.kind == "redemption"][:5]
        purchases = [op for op in self.applied if op.kind == "purchase"][:5]
        for op in redemptions + purchases:
            body = dict(op.body)
            if op.kind == "redemption":
                body["points"] += 1
            else:
                body["lines"] = [dict(body["lines"][0], amount_minor=1)]
            status, answer = self.request(op.method, op.path, body, key=op.credential)
            if (status, (answer or {}).get("code")) != (409, "idempotency_conflict"):
                self.problem(f"{op.key} with another body: {status} {answer}")
        after = {m: self.request("GET", f"/v1/members/{m}")[1]["balance"] for m in MEMBERS}
        if before != after:
            self.problem(f"conflicting requests changed balances: {before} -> {after}")

    # --- the model --------------------------------------------------------------------------
    def ledger(self, member):
        entries, cursor = [], None
        while True:
            path = f"/v1/members/{member}/ledger?limit=500"
            if cursor is not None:
                path += f"&cursor={cursor}"
            status, page = self.request("GET", path)
            assert status == 200, (status, page)
            entries += page["entries"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return sorted(entries, key=lambda e: e["seq"])

    def expectations(self):
        """From the applied answers: Σ ledger points per member and reference, the holds still
        open, and for each answer the ledger entry after which its balance was taken."""
        expected = {m: {f"seed-{m}": SEED_POINTS} for m in MEMBERS}
        hold_points, hold_member, settled = {}, {}, {}
        purchase_member = {}

        def add(member, reference, points):
            expected[member][reference] = expected[member].get(reference, 0) + points

        for op, answer in self.applied.items():
            if op.kind == "purchase":
                purchase_member[op.body["event_id"]] = answer["member_id"]
                add(answer["member_id"], op.body["event_id"],
                    answer["points_earned"] - answer["points_redeemed"])
            elif op.kind == "refund":
                add(answer["member_id"], op.body["event_id"],
                    -answer["points_reversed"] + answer["points_restored"])
            elif op.kind == "redemption":
                add(answer["member_id"], op.body["redemption_id"], -answer["points"])
            elif op.kind == "hold":
                hold_points[op.body["hold_id"]] = answer["points"]
                hold_member[op.body["hold_id"]] = answer["member_id"]
                add(answer["member_id"], op.body["hold_id"], 0)
            else:
                settled[op.key[1]] = op.kind
        held = {m: 0 for m in MEMBERS}
        for hold_id, member in hold_member.items():
            if settled.get(hold_id) == "capture":
                add(member, hold_id, -hold_points[hold_id])
            elif hold_id not in settled:
                held[member] += hold_points[hold_id]
        return expected, held, hold_points

    def check_ledgers_and_balances(self):
        expected, held, hold_points = self.expectations()
        # Where each applied answer's balance must match the ledger: after the last entry of
        # its reference and type.
        answer_types = {"purchase": None, "refund": None, "redemption": "redeem",
                        "hold": "hold", "capture": "hold_capture", "void": "hold_release"}
        spent = credited = 0
        self.stats["answers_matched_to_ledger"] = 0
        self.stats["answers_in_debt"] = sum(1 for answer in self.applied.values()
                                            if answer["balance"]["available"] < 0)
        for member in MEMBERS:
            entries = self.ledger(member)
            references = expected[member]
            sums, seen = {}, set()
            for entry in entries:
                sums[entry["reference"]] = sums.get(entry["reference"], 0) + entry["points"]
                kind = (entry["reference"], entry["type"], entry["rule"])
                if kind in seen:
                    self.problem(f"{member}: applied twice: {kind}")
                seen.add(kind)
            for reference in sorted(set(sums) | set(references)):
                if sums.get(reference, 0) != references.get(reference, 0):
                    self.problem(f"{member}: ledger has {sums.get(reference)} for {reference}, "
                                 f"the answers say {references.get(reference)}")
            # Walk the ledger in order: the running total is balance_after, holds move points
            # between available and held, nothing is spent that was not available.
            total = hold = 0
            state_after = {}  # (reference, type) -> (available, held) after its last entry
            i = 0
            while i < len(entries):
                reference = entries[i]["reference"]
                group = []
                while i < len(entries) and entries[i]["reference"] == reference:
                    group.append(entries[i])
                    i += 1
                available_before = total - hold
                for entry in group:
                    total += entry["points"]
                    if entry["balance_after"] != total:
                        self.problem(f"{member}: entry {entry['id']} balance_after "
                                     f"{entry['balance_after']}, Σ so far {total}")
                    if entry["type"] == "hold":
                        hold += hold_points.get(reference, 0)
                    elif entry["type"] in ("hold_capture", "hold_release"):
                        hold -= hold_points.get(reference, 0)
                    if entry["points"] > 0:
                        credited += entry["points"]
                    if entry["type"] in ("redeem", "hold_capture"):
                        spent -= entry["points"]
                    state_after[(reference, entry["type"])] = (total - hold, hold)
                    state_after[(reference, None)] = (total - hold, hold)
                needs = sum(-e["points"] for e in group if e["type"] == "redeem") + \
                    sum(hold_points.get(reference, 0) for e in group if e["type"] == "hold")
                if needs > 0 and available_before < needs:
                    self.problem(f"{member}: overspend: {reference} took {needs} with "
                                 f"{available_before} available")
                if hold < 0:
                    self.problem(f"{member}: held went negative at {reference}")
            for op, answer in self.applied.items():
                if answer.get("member_id") != member:
                    continue
                reference = op.key[1]
                state = state_after.get((reference, answer_types[op.kind]))
                if state is None:
                    continue  # a purchase that earned and paid nothing writes no entry
                balance = answer["balance"]
                self.stats["answers_matched_to_ledger"] += 1
                if (balance["available"], balance["held"]) != state or balance["pending"] != 0:
                    self.problem(f"{member}: {op.key} answered balance {balance}, the ledger "
                                 f"says (available, held) = {state} right after it")
            status, view = self.request("GET", f"/v1/members/{member}")
            balance = view["balance"]
            want = sum(references.values())
            if (balance["available"] + balance["pending"] + balance["held"], balance["held"]) != \
                    (want, held[member]) or total != want:
                self.problem(f"{member}: balance {balance}, ledger Σ {total}, the answers say "
                             f"total {want} with {held[member]} held")
        if spent > credited:
            self.problem(f"spent {spent} points of {credited} ever credited")
        self.stats["points_spent"] = spent

    def check_refunds(self):
        totals = {op.body["event_id"]: sum(x["amount_minor"] for x in op.body["lines"])
                  for op in self.applied if op.kind == "purchase"}
        earned = {op.body["event_id"]: answer["points_earned"]
                  for op, answer in self.applied.items() if op.kind == "purchase"}
        refunds = {}
        for op, answer in self.applied.items():
            if op.kind == "refund":
                refunds.setdefault(op.body["original_event_id"], []).append(answer)
        full = 0
        for original, answers in refunds.items():
            refunded = sum(a["refunded_minor"] for a in answers)
            reversed_points = sum(a["points_reversed"] for a in answers)
            remaining = min(a["remaining_minor"] for a in answers)
            if refunded > totals[original] or remaining != totals[original] - refunded:
                self.problem(f"{original}: {totals[original]} bought, {refunded} refunded, "
                             f"remaining {remaining}")
            if reversed_points > earned[original] or \
                    (remaining == 0 and reversed_points != earned[original]):
                self.problem(f"{original}: earned {earned[original]}, reversed "
                             f"{reversed_points} (remaining {remaining})")
            full += remaining == 0
        self.stats["purchases_refunded"] = len(refunds)
        self.stats["purchases_refunded_in_full"] = full


class RaceTest(unittest.TestCase):
    def test_concurrent_clients_against_the_same_members(self):
        server = Server(server_toml=server_toml(), program_toml=PROGRAM)
        self.addCleanup(server.cleanup)
        server.start()
        stats = RaceRun(self, server).run()
        print(f"\nraces: seed {SEED}, {HTTP_CLIENTS} HTTP + {WS_CLIENTS} WebSocket clients, "
              f"{json.dumps(stats, sort_keys=True)}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
