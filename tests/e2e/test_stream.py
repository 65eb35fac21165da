"""WebSocket GET /v1/stream end to end with Python's websockets (Debian python3-websockets):
subscribe and push, catch-up after a reconnect, POS event streaming as JSON and as FlatBuffers
(tests/e2e/ws_binary_client.cpp), credentials, and a slow consumer that is dropped while the
server's memory stays bounded."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import time
import unittest

import websockets

from harness import (ADMIN_KEY, APP_KEY, POS_KEY, SOURCE_DIR, Server, line, purchase_body)

WS_BINARY_CLIENT = os.environ.get(
    "WS_BINARY_CLIENT", os.path.join(SOURCE_DIR, "build", "tests", "e2e", "ws_binary_client"))
RECEIVE_TIMEOUT = 15
BACKLOG_MAX = 200
# Events per batch: one commit's pushes reach a session at once, so a burst must stay below
# the backlog for a consumer that reads to keep up.
BATCH_EVENTS = 50


def member_token(sub, exp_in=3600):
    """An HS256 member token signed with the development secret of config/server.toml."""
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        secret = re.search(r'hs256_secret\s*=\s*"([^"]+)"', f.read()).group(1)

    def b64url(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." +
                     b64url(json.dumps({"sub": sub, "exp": int(time.time()) + exp_in}).encode()))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=120))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    raise AssertionError("no VmRSS")


class StreamClient:
    """A JSON text-frame client of /v1/stream."""

    def __init__(self, server, key=APP_KEY, use_query_token=False, **connect_args):
        self.server = server
        self.key = key
        self.use_query_token = use_query_token
        self.connect_args = connect_args
        self.ws = None

    async def __aenter__(self):
        uri = f"ws://127.0.0.1:{self.server.port}/v1/stream"
        headers = {}
        if self.use_query_token:
            uri += f"?token={self.key}"
        elif self.key is not None:
            headers["Authorization"] = f"Bearer {self.key}"
        self.ws = await websockets.connect(uri, extra_headers=headers, **self.connect_args)
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def send(self, message):
        await self.ws.send(json.dumps(message))

    async def receive(self):
        return json.loads(await asyncio.wait_for(self.ws.recv(), RECEIVE_TIMEOUT))

    async def subscribe(self, member_id, after_seq=None):
        message = {"op": "subscribe", "member_id": member_id}
        if after_seq is not None:
            message["after_seq"] = after_seq
        await self.send(message)
        reply = await self.receive()
        return reply


async def rest(call, *args, **kwargs):
    """A blocking harness call, off the event loop (pushes keep arriving meanwhile)."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: call(*args, **kwargs))


class Stream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def signup(self, member_id):
        r = self.server.signup(member_id)
        self.assertEqual(r.status, 201, r)

    def buy(self, event_id, member_id, amount=6400):
        r = self.server.purchase(purchase_body(event_id, member_id,
                                               [line("latte-l", "beverage", amount)]))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_subscribe_then_push_after_a_rest_purchase(self):
        self.signup("ws-m1")

        async def scenario():
            async with StreamClient(self.server) as client:
                subscribed = await client.subscribe("ws-m1")
                self.assertEqual(subscribed["op"], "subscribed")
                self.assertEqual(subscribed["member_id"], "ws-m1")
                latest = subscribed["seq"]
                answer = await rest(self.buy, "ws-e1", "ws-m1")
                pushes = [await client.receive()]
                while pushes[-1]["type"] != "points.earned":  # a tier change may come first
                    self.assertLess(len(pushes), 3, pushes)
                    pushes.append(await client.receive())
                self.assertEqual([p["seq"] for p in pushes],
                                 list(range(latest + 1, latest + 1 + len(pushes))))
                push = pushes[-1]
                self.assertEqual(push["member_id"], "ws-m1")
                self.assertEqual(push["points"], answer["points_earned"])
                self.assertEqual(push["reference"], "ws-e1")
                self.assertIn("at", push)

        run(scenario())

    def test_reconnect_with_after_seq_gets_exactly_what_was_missed(self):
        self.signup("ws-m2")

        async def scenario():
            async with StreamClient(self.server) as client:
                latest = (await client.subscribe("ws-m2"))["seq"]
                await rest(self.buy, "ws-e2-0", "ws-m2")
                seen = (await client.receive())["seq"]
                self.assertEqual(seen, latest + 1)
            # Missed while away.
            for i in range(1, 4):
                await rest(self.buy, f"ws-e2-{i}", "ws-m2")
            # A browser-style client: the key in ?token=.
            async with StreamClient(self.server, use_query_token=True) as client:
                subscribed = await client.subscribe("ws-m2", after_seq=seen)
                self.assertEqual(subscribed["op"], "subscribed")
                newest = subscribed["seq"]
                self.assertGreaterEqual(newest, seen + 3)
                missed = [await client.receive() for _ in range(newest - seen)]
                self.assertEqual([m["seq"] for m in missed], list(range(seen + 1, newest + 1)))
                references = [m["reference"] for m in missed if m["type"] == "points.earned"]
                self.assertEqual(references, ["ws-e2-1", "ws-e2-2", "ws-e2-3"])
                # Then live, with nothing repeated.
                await rest(self.buy, "ws-e2-4", "ws-m2")
                live = await client.receive()
                self.assertEqual(live["seq"], newest + 1)
                self.assertEqual(live["reference"], "ws-e2-4")

        run(scenario())

    def test_the_feed_over_rest_is_what_the_socket_pushes(self):
        self.signup("ws-rest")
        for i in range(3):
            self.buy(f"ws-rest-{i}", "ws-rest")
        r = self.server.request("GET", "/v1/members/ws-rest/notifications?after_seq=0&limit=500",
                                key=APP_KEY)
        self.assertEqual(r.status, 200, r)
        feed = r.json
        self.assertEqual(feed["member_id"], "ws-rest")
        seqs = [n["seq"] for n in feed["notifications"]]
        self.assertEqual(seqs, list(range(1, feed["latest_seq"] + 1)))
        self.assertEqual([n["reference"] for n in feed["notifications"]
                          if n["type"] == "points.earned"], ["ws-rest-0", "ws-rest-1", "ws-rest-2"])
        page = self.server.request("GET", f"/v1/members/ws-rest/notifications?after_seq={seqs[0]}"
                                   "&limit=1", key=APP_KEY).json
        self.assertEqual([n["seq"] for n in page["notifications"]], [seqs[1]])
        only_latest = self.server.request("GET", "/v1/members/ws-rest/notifications?limit=0",
                                          key=APP_KEY).json
        self.assertEqual((only_latest["latest_seq"], only_latest["notifications"]),
                         (feed["latest_seq"], []))

        async def scenario():  # the socket's catch-up from 0 gives the same notifications
            async with StreamClient(self.server) as client:
                await client.subscribe("ws-rest", after_seq=0)
                pushed = [await client.receive() for _ in seqs]
                for push, listed in zip(pushed, feed["notifications"]):
                    self.assertEqual({k: push[k] for k in listed}, listed)

        run(scenario())
        for bad in ("after_seq=-1", "limit=501", "cursor=x"):
            r = self.server.request("GET", f"/v1/members/ws-rest/notifications?{bad}",
                                    key=APP_KEY)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json["errors"][0]["field"], bad.split("=")[0])

    def test_catch_up_while_events_keep_coming_has_no_gap_and_no_duplicate(self):
        self.signup("ws-m3")
        for i in range(20):
            self.buy(f"ws-e3-{i}", "ws-m3", amount=100 + i)

        async def scenario():
            async def more():
                for i in range(20, 40):
                    await rest(self.buy, f"ws-e3-{i}", "ws-m3", 100 + i)

            async with StreamClient(self.server) as client:
                writer = asyncio.create_task(more())
                subscribed = await client.subscribe("ws-m3", after_seq=0)
                self.assertEqual(subscribed["op"], "subscribed")
                await writer
                final = (await rest(self.server.member, "ws-m3")).json
                self.assertIsNotNone(final)
                received = []
                while len(received) < 40:
                    push = await client.receive()
                    if push["type"] == "points.earned":
                        received.append(push)
                seqs = [p["seq"] for p in received]
                self.assertEqual(seqs, sorted(seqs))
                self.assertEqual(len(set(seqs)), len(seqs))
                self.assertEqual([p["reference"] for p in received],
                                 [f"ws-e3-{i}" for i in range(40)])

        run(scenario())

    def test_pos_streams_json_events_answered_in_order(self):
        self.signup("ws-m4")

        def purchase(event_id, amount=6400):
            body = purchase_body(event_id, "ws-m4", [line("latte-l", "beverage", amount)])
            return {"op": "event", "event": {"type": "purchase", **body}}

        async def scenario():
            async with StreamClient(self.server, key=POS_KEY) as client:
                sent = [
                    purchase("ws-e4-0"),
                    purchase("ws-e4-1", amount=1200),
                    {"op": "event", "event": {"type": "purchase", "event_id": "ws-e4-bad",
                                              "member_id": "ws-m4"}},
                    {"op": "event", "event": {"type": "refund", "event_id": "ws-e4-r",
                                              "original_event_id": "ws-e4-1",
                                              "occurred_at": "2026-11-20T11:00:00Z",
                                              "amount_minor": 1200}},
                    purchase("ws-e4-0"),  # a repeat: replayed
                    {"op": "event", "event": {"type": "exchange", "event_id": "ws-e4-x"}},
                ]
                for message in sent:
                    await client.send(message)
                results = [await client.receive() for _ in sent]
                self.assertTrue(all(r["op"] == "result" for r in results), results)
                self.assertEqual([r["event_id"] for r in results],
                                 ["ws-e4-0", "ws-e4-1", "ws-e4-bad", "ws-e4-r", "ws-e4-0",
                                  "ws-e4-x"])
                self.assertEqual([r["status"] for r in results], [200, 200, 400, 200, 200, 400])
                self.assertGreater(results[0]["points_earned"], 0)
                self.assertFalse(results[0]["replayed"])
                self.assertTrue(results[4]["replayed"])
                self.assertEqual(results[4]["points_earned"], results[0]["points_earned"])
                self.assertEqual(results[2]["code"], "invalid_request")
                self.assertEqual(results[3]["points_reversed"], results[1]["points_earned"])
                # Not an operation at all: an error frame, and the socket carries on.
                await client.send({"op": "dance"})
                error = await client.receive()
                self.assertEqual(error["op"], "error")
                self.assertEqual(error["code"], "invalid_request")
                await client.ws.send("{not json")
                self.assertEqual((await client.receive())["op"], "error")
                await client.send(purchase("ws-e4-2"))
                self.assertEqual((await client.receive())["status"], 200)
            # A message over 64 KiB closes the socket with 1009 (message too big).
            async with StreamClient(self.server, key=POS_KEY) as client:
                await client.ws.send(json.dumps({"op": "event", "event": {"pad": "x" * 70000}}))
                with self.assertRaises(websockets.exceptions.ConnectionClosed) as caught:
                    await client.receive()
                self.assertEqual(caught.exception.rcvd.code, 1009)

        run(scenario())

    def test_credentials_and_scopes(self):
        self.signup("ws-m5")

        async def scenario():
            for key in (None, "not-a-key"):
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as caught:
                    async with StreamClient(self.server, key=key):
                        pass
                self.assertEqual(caught.exception.status_code, 401)
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as caught:
                async with StreamClient(self.server, key="not-a-key", use_query_token=True):
                    pass
            self.assertEqual(caught.exception.status_code, 401)
            # pos keys stream events, they do not follow members.
            async with StreamClient(self.server, key=POS_KEY) as client:
                refused = await client.subscribe("ws-m5")
                self.assertEqual(refused["op"], "error")
                self.assertEqual(refused["code"], "forbidden")
                self.assertEqual(refused["status"], 403)
            # app keys follow members, they do not post events.
            async with StreamClient(self.server, key=APP_KEY) as client:
                await client.send({"op": "event", "event": {
                    "type": "purchase",
                    **purchase_body("ws-e5", "ws-m5", [line("latte-l", "beverage", 100)])}})
                result = await client.receive()
                self.assertEqual((result["op"], result["status"], result["code"]),
                                 ("result", 403, "forbidden"))
                missing = await client.subscribe("ws-nobody")
                self.assertEqual((missing["op"], missing["code"]), ("error", "not_found"))
            async with StreamClient(self.server, key=ADMIN_KEY) as client:
                self.assertEqual((await client.subscribe("ws-m5"))["op"], "subscribed")
            # A member token (here in ?token=, as a mini-program sends it) follows only itself.
            token = member_token("ws-m5")
            async with StreamClient(self.server, key=token, use_query_token=True) as client:
                self.assertEqual((await client.subscribe("ws-m5"))["op"], "subscribed")
                other = await client.subscribe("ws-m1")
                self.assertEqual((other["op"], other["code"], other["member_id"]),
                                 ("error", "forbidden", "ws-m1"))
                await client.send({"op": "event", "event": {
                    "type": "purchase",
                    **purchase_body("ws-e5t", "ws-m5", [line("latte-l", "beverage", 100)])}})
                self.assertEqual((await client.receive())["status"], 403)
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as caught:
                async with StreamClient(self.server, key=member_token("ws-m5", exp_in=-60)):
                    pass
            self.assertEqual(caught.exception.status_code, 401)

        run(scenario())
        plain = self.server.request("GET", "/v1/stream", key=APP_KEY)
        self.assertEqual(plain.status, 426, plain)

    def test_binary_frames_with_a_garbage_frame_in_between(self):
        self.signup("ws-m6")
        self.assertTrue(os.path.exists(WS_BINARY_CLIENT), WS_BINARY_CLIENT)
        out = subprocess.run(
            [WS_BINARY_CLIENT, "--port", str(self.server.port), "--key", POS_KEY,
             "--member", "ws-m6", "--prefix", "ws-bin", "--count", "20", "--garbage-at", "7"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        results = [json.loads(row) for row in out.stdout.splitlines()]
        self.assertEqual(len(results), 21)
        garbage = results[7]
        self.assertEqual((garbage["status"], garbage["code"], garbage["event_id"]),
                         (400, "invalid_request", None))
        purchases = results[:7] + results[8:]
        self.assertEqual([r["event_id"] for r in purchases], [f"ws-bin-{i}" for i in range(20)])
        self.assertTrue(all(r["status"] == 200 and r["code"] is None for r in purchases), purchases)
        self.assertTrue(all(r["points_earned"] > 0 for r in purchases))
        balances = [r["balance_available"] for r in purchases]
        self.assertEqual(balances, sorted(balances))
        self.assertEqual(purchases[0]["body"]["op"], "result")
        self.assertEqual(purchases[-1]["body"]["member_id"], "ws-m6")
        member = self.server.member("ws-m6").json
        self.assertEqual(member["balance"]["available"], balances[-1])


class SlowConsumer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
            text = f.read()
        setting = f"ws_backlog_max = {BACKLOG_MAX}\n"
        if "\n[limits]\n" in text:
            text = text.replace("\n[limits]\n", "\n[limits]\n" + setting, 1)
        else:
            text += "\n[limits]\n" + setting
        # Under AddressSanitizer freed memory waits in a 256 MiB quarantine before reuse,
        # which would read as growth here; a small quarantine keeps the RSS check meaningful.
        asan = os.environ.get("ASAN_OPTIONS", "")
        cls.server = Server(server_toml=text,
                            env={"ASAN_OPTIONS": asan + ":quarantine_size_mb=4"})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def test_a_subscriber_that_never_reads_is_dropped_and_memory_stays_bounded(self):
        server = self.server
        self.assertEqual(server.signup("slow-m").status, 201)
        rss_before = vm_rss_kib(server.process.pid)
        batches = 0

        def push_batch():
            nonlocal batches
            events = [{"type": "purchase",
                       **purchase_body(f"slow-{batches}-{i}", "slow-m",
                                       [line("latte-l", "beverage", 100)])}
                      for i in range(BATCH_EVENTS)]
            r = server.request("POST", "/v1/events:batch", events, key=POS_KEY)
            self.assertEqual(r.status, 200, r)
            batches += 1

        async def read_everything(client, received):
            while True:
                push = await client.receive()
                if push.get("type") == "points.earned":
                    received.append(push["reference"])

        async def scenario():
            # A small receive window and queue, so that not reading shows soon.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            async with StreamClient(server, sock=sock, max_queue=1, read_limit=4096,
                                    ping_interval=None) as slow, StreamClient(server) as fast:
                self.assertEqual((await slow.subscribe("slow-m"))["op"], "subscribed")
                self.assertEqual((await fast.subscribe("slow-m"))["op"], "subscribed")
                received = []
                reader = asyncio.create_task(read_everything(fast, received))
                while "slow consumer" not in server.read_log():
                    self.assertLess(batches, 200, "the subscriber that never reads was kept")
                    await rest(push_batch)
                await rest(push_batch)  # one more after the drop
                rss_after = vm_rss_kib(server.process.pid)
                self.assertLess(rss_after - rss_before, 100 * 1024,
                                f"RSS grew from {rss_before} KiB to {rss_after} KiB")
                # The subscriber that reads got every push, in order, and is still served.
                expected = [f"slow-{b}-{i}" for b in range(batches) for i in range(BATCH_EVENTS)]
                deadline = time.time() + RECEIVE_TIMEOUT
                while len(received) < len(expected) and time.time() < deadline:
                    await asyncio.sleep(0.05)
                self.assertEqual(received, expected)
                reader.cancel()
                # The one that never read: the pushes that made it, then the close frame.
                pushes = 0
                with self.assertRaises(websockets.exceptions.ConnectionClosed) as caught:
                    while True:
                        await asyncio.wait_for(slow.ws.recv(), RECEIVE_TIMEOUT)
                        pushes += 1
                close = caught.exception.rcvd
                self.assertIsNotNone(close, "no close frame was received")
                self.assertEqual(close.code, 1008)
                self.assertEqual(close.reason, f"slow consumer: backlog over {BACKLOG_MAX}")
                self.assertGreater(pushes, BACKLOG_MAX)
                self.assertLess(pushes, len(expected))
            # A new subscriber is served.
            async with StreamClient(server) as client:
                self.assertEqual((await client.subscribe("slow-m"))["op"], "subscribed")

        run(scenario())


class Shutdown(unittest.TestCase):
    def test_sigterm_sends_going_away_to_every_open_socket(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start()
        self.assertEqual(server.signup("bye-m").status, 201)

        async def closed_frame(client):
            with self.assertRaises(websockets.exceptions.ConnectionClosed) as caught:
                while True:
                    await asyncio.wait_for(client.ws.recv(), RECEIVE_TIMEOUT)
            return caught.exception.rcvd

        async def scenario():
            # A subscriber and a POS that only streams events: both are told, not just cut.
            async with StreamClient(server) as follower, StreamClient(server, key=POS_KEY) as pos:
                self.assertEqual((await follower.subscribe("bye-m"))["op"], "subscribed")
                await pos.send({"op": "event", "event": {
                    "type": "purchase", **purchase_body("bye-e1", "bye-m",
                                                        [line("latte-l", "beverage", 800)])}})
                self.assertEqual((await pos.receive())["status"], 200)
                stopping = asyncio.get_running_loop().run_in_executor(None, server.stop)
                closes = await asyncio.gather(closed_frame(follower), closed_frame(pos))
                self.assertEqual(await stopping, 0)
                for close in closes:
                    self.assertIsNotNone(close, "no close frame was received")
                    self.assertEqual(close.code, 1001)
                    self.assertEqual(close.reason, "server shutting down")

        run(scenario())


if __name__ == "__main__":
    unittest.main()
