"""The soak's clients: worker processes that send a mixed load over keep-alive HTTP
connections, and a process with WebSocket subscribers. Each worker owns the purchases and holds
it made (to refund, capture or void them) and reports, once a second, the latency of every
request it finished and how each was answered."""
import asyncio
import http.client
import json
import random
import time
from datetime import datetime, timezone

ADMIN_KEY = "loyalty-dev-admin-key"
POS_KEY = "loyalty-dev-pos-key"
APP_KEY = "loyalty-dev-app-key"

# Share of each operation, in percent; the rest (up to 100) are member reads.
MIX = [("purchase", 30), ("refund", 8), ("redemption", 10), ("hold", 8), ("settle", 8),
       ("signup", 3), ("ledger", 3)]
# Refusals the load provokes on purpose (spending more than a member has): answered, not errors.
EXPECTED_REFUSALS = {(422, "insufficient_points")}


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Client:
    """One keep-alive connection; reconnects after a failure."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, key=POS_KEY):
        headers = {"Authorization": f"Bearer {key}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                text = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status, text
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Worker:
    """The operations of one worker process."""

    def __init__(self, port, index, run_id, members, seed):
        self.client = Client(port)
        self.index = index
        self.run_id = run_id
        self.members = list(members)
        self.random = random.Random(seed)
        self.sequence = 0
        self.purchases = []  # [event_id, amount still refundable]
        self.holds = []
        self.operations = [name for name, share in MIX for _ in range(share)]

    def next_id(self, prefix):
        self.sequence += 1
        return f"{prefix}-{self.run_id}-{self.index}-{self.sequence}"

    def member(self):
        return self.random.choice(self.members)

    def one(self):
        """Sends one request; returns (status, code) with code the problem's code or ''."""
        roll = self.random.randrange(100)
        name = self.operations[roll] if roll < len(self.operations) else "read"
        if name == "refund" and not self.purchases:
            name = "purchase"
        if name == "settle" and not self.holds:
            name = "hold"
        status, body = getattr(self, name)()
        code = ""
        if status >= 400:
            try:
                code = json.loads(body).get("code", "")
            except ValueError:
                code = "unreadable"
        return status, code

    def purchase(self):
        event_id = self.next_id("p")
        amount = self.random.randrange(500, 20000)
        status, body = self.client.request("POST", "/v1/events/purchase", {
            "event_id": event_id, "member_id": self.member(), "store_id": "s-1",
            "occurred_at": now_rfc3339(), "currency": "CNY",
            "lines": [{"sku": "latte-l", "category": "beverage", "quantity": 1,
                       "amount_minor": amount}]})
        if status == 200:
            self.purchases.append([event_id, amount])
            del self.purchases[:-200]  # refunds pick among the latest purchases
        return status, body

    def refund(self):
        chosen = self.random.randrange(len(self.purchases))
        event_id, remaining = self.purchases[chosen]
        amount = remaining if self.random.random() < 0.5 else self.random.randrange(1, remaining + 1)
        status, body = self.client.request("POST", "/v1/events/refund", {
            "event_id": self.next_id("r"), "original_event_id": event_id,
            "occurred_at": now_rfc3339(), "amount_minor": amount})
        if status == 200:
            self.purchases[chosen][1] -= amount
            if self.purchases[chosen][1] == 0:
                self.purchases.pop(chosen)
        return status, body

    def redemption(self):
        return self.client.request("POST", f"/v1/members/{self.member()}/redemptions", {
            "redemption_id": self.next_id("rd"), "points": self.random.randrange(100, 400)})

    def hold(self):
        hold_id = self.next_id("h")
        status, body = self.client.request("POST", "/v1/holds", {
            "hold_id": hold_id, "member_id": self.member(),
            "points": self.random.randrange(100, 400)})
        if status == 201:
            self.holds.append(hold_id)
        return status, body

    def settle(self):
        hold_id = self.holds.pop(self.random.randrange(len(self.holds)))
        action = "capture" if self.random.random() < 0.6 else "void"
        return self.client.request("POST", f"/v1/holds/{hold_id}:{action}", {})

    def signup(self):
        member_id = self.next_id("m")
        status, body = self.client.request("POST", "/v1/members", {"member_id": member_id},
                                           key=APP_KEY)
        if status == 201:
            self.members.append(member_id)
        return status, body

    def read(self):
        return self.client.request("GET", f"/v1/members/{self.member()}", key=APP_KEY)

    def ledger(self):
        return self.client.request("GET", f"/v1/members/{self.member()}/ledger?limit=10",
                                   key=APP_KEY)


def run_worker(port, index, run_id, members, seed, rate, stop, reports):
    """Sends requests until `stop` is set: at `rate` requests/s (paced), or as fast as
    answers come when rate is None. Puts one report a second on `reports`:
    {"latencies_ms": [...], "statuses": {"200": n, "422 insufficient_points": n, ...}}."""
    worker = Worker(port, index, run_id, members, seed)
    latencies, statuses = [], {}
    next_report = time.monotonic() + 1.0
    next_send = time.monotonic()
    while not stop.is_set():
        if rate:
            pause = next_send - time.monotonic()
            if pause > 0:
                time.sleep(min(pause, 0.5))
                continue
            next_send += 1.0 / rate
            # Fallen far behind (a stall): start again from now instead of bursting.
            next_send = max(next_send, time.monotonic() - 1.0)
        started = time.monotonic()
        try:
            status, code = worker.one()
            key = f"{status} {code}".strip()
        except (OSError, http.client.HTTPException) as error:
            key = f"connection {type(error).__name__}"
        latencies.append((time.monotonic() - started) * 1000.0)
        statuses[key] = statuses.get(key, 0) + 1
        if time.monotonic() >= next_report:
            reports.put({"latencies_ms": latencies, "statuses": statuses})
            latencies, statuses = [], {}
            next_report += 1.0
    reports.put({"latencies_ms": latencies, "statuses": statuses})
    worker.client.close()


def run_subscribers(port, members, count, stop, reports):
    """`count` WebSocket clients of /v1/stream, each following a share of `members`; reports
    the pushes received once a second ({"pushes": n, "reconnects": n})."""
    import websockets  # Debian's python3-websockets, as the e2e tests use

    counters = {"pushes": 0, "reconnects": 0}

    async def follow(share):
        uri = f"ws://127.0.0.1:{port}/v1/stream"
        while not stop.is_set():
            try:
                async with websockets.connect(
                        uri, extra_headers={"Authorization": f"Bearer {APP_KEY}"}) as ws:
                    for member_id in share:
                        await ws.send(json.dumps({"op": "subscribe", "member_id": member_id}))
                    while not stop.is_set():
                        try:
                            await asyncio.wait_for(ws.recv(), 0.5)
                            counters["pushes"] += 1
                        except asyncio.TimeoutError:
                            pass
            except (OSError, websockets.exceptions.WebSocketException):
                counters["reconnects"] += 1
                await asyncio.sleep(0.2)

    async def report():
        while not stop.is_set():
            await asyncio.sleep(1.0)
            reports.put(dict(counters))
            counters["pushes"] = counters["reconnects"] = 0

    async def main():
        shares = [members[i::count] for i in range(count)]
        await asyncio.gather(report(), *(follow(share) for share in shares))

    asyncio.run(main())
