"""Security end to end: member token scope, expiry and tampering; rate limits with Retry-After;
slow senders and oversize requests closed; no key, token, secret or phone number in the log;
no internals in error bodies. Member tokens are made here with hmac/hashlib, independently of
the server's code."""
import base64
import hashlib
import hmac
import json
import os
import select
import socket
import time
import unittest

from harness import ADMIN_KEY, APP_KEY, POS_KEY, Server, line, purchase_body

SECRET = "e2e-member-token-secret-0f3a9c"
PHONES = ["+8613800007001", "+8613800007002"]
CARDS = ["CARD-SEC-7001", "CARD-SEC-7002"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def member_token(sub, exp_in=3600, secret=SECRET, header=None, payload=None):
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    payload = payload if payload is not None else {"sub": sub, "exp": int(time.time()) + exp_in}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def server_toml(extra=""):
    """The development keys (hashed here), the test secret, and `extra` sections."""
    text = 'listen = "127.0.0.1:0"\n'
    for name, role, key, stores in [("dev-admin", "admin", ADMIN_KEY, None),
                                    ("dev-pos", "pos", POS_KEY, '["*"]'),
                                    ("dev-app", "app", APP_KEY, None)]:
        text += (f'[[api_keys]]\nname = "{name}"\nrole = "{role}"\n'
                 f'sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n')
        if stores:
            text += f"stores = {stores}\n"
    text += f'[member_tokens]\nhs256_secret = "{SECRET}"\n'
    return text + extra


class ErrorBodies:
    """Every error body seen, checked for internals at the end."""

    def __init__(self):
        self.bodies = []

    def check(self, test):
        for body in self.bodies:
            for needle in ("/work", ".cpp", ".hpp", "Traceback", "what()", "std::",
                           "exception"):
                test.assertNotIn(needle, body)


class MemberTokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml()).start()
        cls.errors = ErrorBodies()
        for member_id, phone, card in zip(["m-alice", "m-bob"], PHONES, CARDS):
            r = cls.server.signup(member_id, phone=phone, card_no=card)
            assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def call(self, method, path, token, body=None):
        r = self.server.request(method, path, body, key=token)
        if r.status >= 400:
            self.errors.bodies.append(r.body)
        return r

    def assert_problem(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json", r)
        self.assertEqual(r.json["code"], code, r)

    def test_own_member_readable(self):
        token = member_token("m-alice")
        r = self.call("GET", "/v1/members/m-alice", token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["member_id"], "m-alice")
        self.assertEqual(self.call("GET", "/v1/members/m-alice/ledger", token).status, 200)
        self.assertEqual(self.call("GET", "/v1/members/m-alice/referrals", token).status, 200)

    def test_other_member_forbidden(self):
        token = member_token("m-alice")
        for path in ["/v1/members/m-bob", "/v1/members/m-bob/ledger",
                     "/v1/members/m-bob/referrals", "/v1/members/nobody"]:
            self.assert_problem(self.call("GET", path, token), 403, "forbidden")

    def test_everything_else_forbidden(self):
        token = member_token("m-alice")
        purchase = purchase_body("e-sec-1", "m-alice", [line("latte", "beverage", 3000)])
        self.assert_problem(self.call("POST", "/v1/events/purchase", token, purchase), 403,
                            "forbidden")
        self.assert_problem(self.call("POST", "/v1/members/m-alice/redemptions", token,
                                      {"redemption_id": "r-1", "points": 100}), 403, "forbidden")
        self.assert_problem(self.call("GET", f"/v1/members:lookup?card_no={CARDS[1]}", token),
                            403, "forbidden")
        self.assert_problem(self.call("POST", "/v1/members", token, {"member_id": "m-eve"}), 403,
                            "forbidden")
        self.assert_problem(self.call("POST", "/v1/holds", token,
                                      {"hold_id": "h-1", "member_id": "m-alice", "points": 100}),
                            403, "forbidden")
        # Nothing happened: no points, no member.
        self.assertEqual(self.server.member("m-alice").json["balance"]["available"], 0)
        self.assertEqual(self.server.member("m-eve").status, 404)

    def test_expired_token_unauthorized(self):
        for exp_in in (-3600, -1, 0):
            r = self.call("GET", "/v1/members/m-alice", member_token("m-alice", exp_in=exp_in))
            self.assert_problem(r, 401, "unauthorized")
            self.assertEqual(r.headers.get("WWW-Authenticate"), "Bearer")

    def test_missing_exp_unauthorized(self):
        token = member_token("m-alice", payload={"sub": "m-alice"})
        self.assert_problem(self.call("GET", "/v1/members/m-alice", token), 401, "unauthorized")

    def test_tampered_token_unauthorized(self):
        token = member_token("m-alice")
        head, _, signature = token.split(".")
        bob = b64url(json.dumps({"sub": "m-bob", "exp": int(time.time()) + 3600}).encode())
        for bad in [head + "." + bob + "." + signature,                       # payload swapped
                    token[:-1] + ("A" if token[-1] != "A" else "B"),          # signature changed
                    token + "=",                                              # padding
                    member_token("m-alice", secret="another-secret"),         # wrong secret
                    token.replace(".", "..", 1)]:
            self.assert_problem(self.call("GET", "/v1/members/m-alice", bad), 401, "unauthorized")

    def test_alg_none_unauthorized(self):
        payload = b64url(json.dumps({"sub": "m-alice", "exp": int(time.time()) + 3600}).encode())
        for alg in ["none", "None", "HS512", "RS256"]:
            header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
            signature = member_token("m-alice").split(".")[2]
            for token in [f"{header}.{payload}.", f"{header}.{payload}.{signature}"]:
                self.assert_problem(self.call("GET", "/v1/members/m-alice", token), 401,
                                    "unauthorized")

    def test_zz_error_bodies_have_no_internals(self):
        # Runs last in this class (unittest sorts by name): every error seen above, and a few more.
        for method, path, raw in [("POST", "/v1/members", b"{not json"),
                                  ("POST", "/v1/events/purchase", b"[1,2"),
                                  ("GET", "/v1/nothing-here", None),
                                  ("DELETE", "/v1/members/m-alice", None)]:
            r = self.server.request(method, path, raw=raw, key=ADMIN_KEY)
            self.assertGreaterEqual(r.status, 400, r)
            self.errors.bodies.append(r.body)
        self.assertGreater(len(self.errors.bodies), 10)
        self.errors.check(self)


class RateLimitTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(server_toml=server_toml(
            "[rate_limits]\nper_key_rps = 1\nper_key_burst = 3\n"
            "per_member_token_rps = 1\nper_member_token_burst = 2\n")).start()
        self.addCleanup(self.server.cleanup)

    def test_key_burst_then_429_with_retry_after(self):
        for _ in range(3):
            self.assertEqual(self.server.member("nobody", key=APP_KEY).status, 404)
        r = self.server.member("nobody", key=APP_KEY)
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["code"], "rate_limited")
        self.assertRegex(r.headers.get("Retry-After", ""), r"^[1-9][0-9]*$")
        self.assertIn("X-Request-Id", r.headers)
        # Other keys have their own buckets; unauthenticated requests are not counted.
        self.assertEqual(self.server.member("nobody", key=POS_KEY).status, 404)
        self.assertEqual(self.server.request("GET", "/healthz", key=None).status, 200)
        # The bucket refills at 1/s.
        time.sleep(float(r.headers["Retry-After"]) + 0.1)
        self.assertEqual(self.server.member("nobody", key=APP_KEY).status, 404)

    def test_member_token_bucket(self):
        self.assertEqual(self.server.signup("m-carol", key=ADMIN_KEY).status, 201)
        # Two tokens of the same member share one bucket.
        first, second = member_token("m-carol", exp_in=600), member_token("m-carol", exp_in=601)
        self.assertEqual(self.server.member("m-carol", key=first).status, 200)
        self.assertEqual(self.server.member("m-carol", key=second).status, 200)
        r = self.server.member("m-carol", key=first)
        self.assertEqual(r.status, 429, r)
        self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        self.assertEqual(self.server.member("m-carol", key=APP_KEY).status, 200)

    def test_stream_upgrades_are_counted(self):
        # A WebSocket upgrade draws from the same bucket, here a member token given as ?token=
        # (which must not reach the log either).
        token = member_token("m-dora")
        statuses = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
            self.addCleanup(sock.close)
            sock.sendall((f"GET /v1/stream?token={token} HTTP/1.1\r\nHost: x\r\n"
                          "Connection: Upgrade\r\nUpgrade: websocket\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            statuses.append(int(head.split(b" ", 2)[1]))
        self.assertEqual(statuses, [101, 101, 429])
        self.assertNotIn(token, self.server.read_log())


def read_until_closed(sock, deadline):
    """Reads until the peer closes; returns (bytes read, whether it closed before deadline)."""
    data = b""
    while time.time() < deadline:
        ready, _, _ = select.select([sock], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


class SlowAndLargeRequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(
            "[limits]\nheader_timeout_ms = 1000\nidle_timeout_ms = 5000\n")).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.addCleanup(sock.close)
        return sock

    def test_slowloris_closed_after_header_timeout(self):
        sock = self.connect()
        started = time.time()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed_at = None
        for i in range(40):  # one header line every 0.2 s, never the end of the headers
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.time()
                break
            ready, _, _ = select.select([sock], [], [], 0.2)
            if ready:
                try:
                    if sock.recv(4096) == b"":
                        closed_at = time.time()
                        break
                except ConnectionResetError:
                    closed_at = time.time()
                    break
        self.assertIsNotNone(closed_at, "the slow sender was never disconnected")
        self.assertLess(closed_at - started, 4.0)
        self.assertGreaterEqual(closed_at - started, 0.9)
        self.assertEqual(self.server.request("GET", "/healthz", key=None).status, 200)

    def test_silent_connection_closed(self):
        sock = self.connect()
        _, closed = read_until_closed(sock, time.time() + 4.0)
        self.assertTrue(closed, "a connection that never sends was kept open")

    def test_oversize_body_413_and_closed(self):
        sock = self.connect()
        sock.sendall(b"POST /v1/members HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + APP_KEY.encode() + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n")
        data, closed = read_until_closed(sock, time.time() + 5.0)
        self.assertTrue(data.startswith(b"HTTP/1.1 413 "), data[:200])
        self.assertIn(b"payload_too_large", data)
        self.assertIn(b"Connection: close", data)
        self.assertTrue(closed, "the connection stayed open after a 413")
        self.assertNotIn(b"/work", data)


class NoSecretsInLogsTest(unittest.TestCase):
    def test_log_has_no_keys_tokens_secret_or_phones(self):
        server = Server(server_toml=server_toml())
        self.addCleanup(server.cleanup)
        server.start()
        token = member_token("m-dave")
        expired = member_token("m-dave", exp_in=-10)
        r = server.signup("m-dave", phone=PHONES[0], card_no=CARDS[0])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(server.signup("m-erin", phone=PHONES[1], key=ADMIN_KEY).status, 201)
        calls = [
            ("GET", f"/v1/members:lookup?phone={PHONES[0].replace('+', '%2B')}", POS_KEY),
            ("GET", f"/v1/members:lookup?phone={PHONES[1]}", APP_KEY),
            ("GET", f"/v1/members:lookup?card_no={CARDS[0]}", ADMIN_KEY),
            ("GET", "/v1/members/m-dave", token),
            ("GET", "/v1/members/m-erin", token),
            ("GET", "/v1/members/m-dave", expired),
            ("GET", "/v1/members/m-dave", "not-a-key-" + SECRET),
            ("POST", "/v1/events/purchase", token),
        ]
        for method, path, key in calls:
            r = server.request(method, path, key=key, headers={"X-Request-Id": "sec-log-1"})
            self.assertLess(r.status, 500, r)
        self.assertLess(server.signup("m-frank", phone="bad phone " + PHONES[0]).status, 500)
        self.assertEqual(server.stop(), 0)
        log = server.read_log()

        for secret in [ADMIN_KEY, POS_KEY, APP_KEY, SECRET, token, expired, *PHONES,
                       PHONES[0].lstrip("+"), *CARDS, token.split(".")[2],
                       hashlib.sha256(ADMIN_KEY.encode()).hexdigest()]:
            self.assertNotIn(secret, log)

        # One JSON object per line; every request line carries its request id and the route
        # as a template, never the raw path.
        requests = []
        for text in log.splitlines():
            entry = json.loads(text)
            for field in ("time", "level", "msg"):
                self.assertIn(field, entry, text)
            if entry["msg"] == "request":
                requests.append(entry)
                for field in ("request_id", "method", "route", "status", "duration_ms"):
                    self.assertIn(field, entry, text)
        self.assertGreaterEqual(len(requests), len(calls) + 3)
        tagged = [e for e in requests if e["request_id"] == "sec-log-1"]
        self.assertEqual(len(tagged), len(calls))
        routes = {e["route"] for e in tagged}
        self.assertIn("/v1/members:lookup", routes)
        self.assertIn("/v1/members/{member_id}", routes)
        by_token = [e for e in tagged if e.get("principal") == "member-token"]
        self.assertEqual({e["member_id"] for e in by_token}, {"m-dave"})
        self.assertEqual({e["status"] for e in by_token}, {200, 403})
        self.assertIn("dev-pos", {e.get("principal") for e in tagged})


if __name__ == "__main__":
    unittest.main()
