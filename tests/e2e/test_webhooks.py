"""Webhooks (api.md "Webhooks"), received by a Node receiver that verifies every delivery with
the Standard Webhooks reference library (npm standardwebhooks) and with its own HMAC: messages
for sign-ups, purchases, changes and erasures, signed (two signatures during a rotation),
filtered by type, in seq order per member; the nemesis: a receiver answering 500, 429 with
Retry-After, slowly past the timeout, dropping connections, down for a while, and loyaltyd
killed mid-delivery — every message delivered at least once, in order, none invented; 410
disables; private addresses refused unless allowed; HTTPS verified against trusted CAs."""
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import (ADMIN_KEY, POS_KEY, SOURCE_DIR, Server, line, purchase_body)

RECEIVER = os.path.join(SOURCE_DIR, "tests", "e2e", "webhook_receiver", "receiver.js")
SERVER_TOML = open(os.path.join(SOURCE_DIR, "config", "server.toml")).read()
FAST = SERVER_TOML + """
[webhooks]
allow_private_addresses = true
timeout_seconds = 1
retry_schedule_seconds = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
"""


class Receiver:
    """The Node receiver on a port of its own; restartable on the same port."""

    def __init__(self, tls=None, env=None):
        self.tls = tls or []
        self.env = {**os.environ, **(env or {})}
        self.port = 0
        self.process = None

    def start(self):
        self.process = subprocess.Popen(["node", RECEIVER, str(self.port), *self.tls],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        env=self.env)
        first = self.process.stdout.readline().decode()
        assert first.startswith("listening"), first
        self.port = int(first.split()[1])
        return self

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process.stdout.close()
            self.process = None

    def control(self, path, body=None):
        scheme = "http"
        request = urllib.request.Request(
            f"{scheme}://127.0.0.1:{self.port}/_control/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST")
        context = None
        if self.tls:
            import ssl
            context = ssl.create_default_context(cafile=self.tls[0])
            request.full_url = request.full_url.replace("http://", "https://")
        with urllib.request.urlopen(request, timeout=10, context=context) as r:
            return json.loads(r.read())

    def received(self):
        return self.control("received")["received"]

    def url(self, path="/hooks"):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def expected_messages(server, members):
    """Every message the members' history makes: member.created, then each notification."""
    expected = set()
    for member in members:
        expected.add((member, "member.created", 0))
        feed = server.request("GET", f"/v1/members/{member}/notifications?after_seq=0&limit=500")
        assert feed.status == 200, feed
        for n in feed.json["notifications"]:
            expected.add((member, n["type"], n["seq"]))
    return expected


class WebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver().start()
        cls.server = Server(server_toml=FAST).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.receiver.stop()

    def create(self, **body):
        r = self.server.request("POST", "/v1/webhooks", {"url": self.receiver.url(), **body})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["secret"].startswith("whsec_"))
        return r.json

    def delete_all(self):
        for endpoint in self.server.request("GET", "/v1/webhooks").json["webhooks"]:
            self.assertEqual(
                self.server.request("DELETE", f"/v1/webhooks/{endpoint['id']}").status, 204)

    def test_1_messages_are_signed_filtered_and_verified_by_the_reference_library(self):
        s = self.server
        everything = self.create(description="CRM")
        earned_only = self.create(event_types=["points.earned"],
                                  url=self.receiver.url("/earned"))
        self.receiver.control("secrets", {"secrets": [everything["secret"],
                                                      earned_only["secret"]]})
        self.assertEqual(s.signup("wh-1", phone="13600000001").status, 201)
        self.assertEqual(s.purchase(purchase_body("wh-p1", "wh-1",
                                                  [line("a", "food", 5000)])).status, 200)
        self.assertEqual(s.request("PATCH", "/v1/members/wh-1", {"phone": "13600000002"}).status,
                         200)
        expected = expected_messages(s, ["wh-1"])
        self.assertIn(("wh-1", "member.updated", 2), expected)
        wait_for(lambda: len(self.receiver.received()) >= len(expected) + 1, what="deliveries")
        time.sleep(0.5)  # nothing more should come
        got = self.receiver.received()
        for delivery in got:
            self.assertTrue(delivery["library_ok"], delivery)
            self.assertTrue(delivery["own_ok"], delivery)
            self.assertRegex(delivery["id"], r"^msg_\d+_\d+$")
        everything_got = [(d["member_id"], d["type"], d["seq"]) for d in got
                          if d["path"] == "/hooks"]
        # One connection carries a stream of messages (HTTP/1.1 keep-alive): the two endpoints
        # share the receiver, and were sent their messages over far fewer connections.
        connections = {d["connection"] for d in got}
        self.assertLess(len(connections), len(got) / 2, (len(connections), len(got)))
        self.assertEqual(sorted(everything_got), sorted(expected), "each once, none else")
        self.assertEqual([(d["type"], d["path"]) for d in got if d["path"] == "/earned"],
                         [("points.earned", "/earned")], "only the type it wants")
        update = next(d for d in got if d["type"] == "member.updated")
        self.assertEqual(update["body"]["data"]["changes"], {"phone": "13600000002"})
        self.assertEqual(update["body"]["data"]["changed_by"], "dev-admin")
        # The deliveries log.
        page = s.request("GET", f"/v1/webhooks/{earned_only['id']}/deliveries").json
        self.assertEqual([(d["type"], d["state"]) for d in page["deliveries"]],
                         [("points.earned", "delivered")])
        self.assertEqual(page["deliveries"][0]["attempts"][0]["status"], 200)
        # A test message reaches the endpoint now, signed.
        test = s.request("POST", f"/v1/webhooks/{everything['id']}:test")
        self.assertEqual(test.status, 200, test)
        self.assertTrue(test.json["delivered"], test)
        last = self.receiver.received()[-1]
        self.assertEqual((last["type"], last["library_ok"]), ("webhook.test", True))
        # Metrics say what was delivered.
        metrics = s.request("GET", "/metrics").body
        self.assertIn(f'loyalty_webhook_messages_delivered_total{{endpoint="{earned_only["id"]}"}} 1',
                      metrics)
        self.assertIn("loyalty_webhook_delivery_latency_seconds_count", metrics)
        self.delete_all()

    def test_2_a_rotation_signs_with_both_secrets_for_a_day(self):
        s = self.server
        endpoint = self.create()
        rotated = s.request("POST", f"/v1/webhooks/{endpoint['id']}/secret:rotate")
        self.assertEqual(rotated.status, 200, rotated)
        self.assertNotEqual(rotated.json["secret"], endpoint["secret"])
        self.assertIn("previous_secret_until", rotated.json)
        before = len(self.receiver.received())
        # A receiver that has only the old secret still verifies the message, with the library.
        self.receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        self.assertEqual(s.signup("wh-rot-1").status, 201)
        wait_for(lambda: len(self.receiver.received()) > before, what="a delivery")
        old_only = self.receiver.received()[-1]
        self.assertEqual((old_only["signatures"], old_only["library_ok"]), (2, True))
        self.receiver.control("secrets", {"secrets": [rotated.json["secret"]]})
        self.assertEqual(s.signup("wh-rot-2").status, 201)
        wait_for(lambda: len(self.receiver.received()) > before + 1, what="a delivery")
        self.assertTrue(self.receiver.received()[-1]["library_ok"])
        # A secret not given never verifies: the check can fail.
        self.receiver.control("secrets", {"secrets": ["whsec_" + "A" * 44]})
        self.assertEqual(s.signup("wh-rot-3").status, 201)
        wait_for(lambda: len(self.receiver.received()) > before + 2, what="a delivery")
        self.assertFalse(self.receiver.received()[-1]["library_ok"])
        self.assertFalse(self.receiver.received()[-1]["own_ok"])
        self.delete_all()

    def test_3_410_disables_the_endpoint(self):
        s = self.server
        endpoint = self.create()
        self.receiver.control("script", {"script": [{"status": 410}]})
        self.assertEqual(s.signup("wh-gone").status, 201)
        shown = wait_for(lambda: (lambda e: e if e["disabled"] else None)(
            s.request("GET", f"/v1/webhooks/{endpoint['id']}").json), what="the endpoint disabled")
        self.assertEqual(shown["disabled_reason"], "the endpoint answered 410 Gone")
        # Enabled again by the operator, the message goes out.
        self.receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        before = len(self.receiver.received())
        self.assertEqual(s.request("PATCH", f"/v1/webhooks/{endpoint['id']}",
                                   {"disabled": False}).status, 200)
        wait_for(lambda: len(self.receiver.received()) > before, what="the delivery")
        self.assertEqual(self.receiver.received()[-1]["member_id"], "wh-gone")
        self.delete_all()

    def test_4_replay_sends_every_message_since_again(self):
        s = self.server
        endpoint = self.create()
        self.receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        for member in ("wh-rp-1", "wh-rp-2"):
            self.assertEqual(s.signup(member).status, 201)
        wait_for(lambda: sum(d.get("member_id") in ("wh-rp-1", "wh-rp-2")
                             for d in self.receiver.received()) == 2, what="first deliveries")
        first_ids = [d["id"] for d in self.receiver.received()
                     if d.get("member_id") in ("wh-rp-1", "wh-rp-2")]
        r = s.request("POST", f"/v1/webhooks/{endpoint['id']}:replay", {"since": started})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: sum(d.get("member_id") in ("wh-rp-1", "wh-rp-2")
                             for d in self.receiver.received()) == 4, what="replayed deliveries")
        again = [d["id"] for d in self.receiver.received()
                 if d.get("member_id") in ("wh-rp-1", "wh-rp-2")][2:]
        self.assertEqual(again, first_ids, "the same ids: receivers drop what they have")
        self.delete_all()

    def test_6_jobs_announce_their_end(self):
        s = self.server
        endpoint = self.create(event_types=["job.succeeded", "job.failed"])
        self.receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        before = len(self.receiver.received())
        job = s.request("POST", "/v1/jobs", {"type": "expire", "as_of": "2026-01-01T00:00:00Z"})
        self.assertEqual(job.status, 202, job)
        backup = s.request("POST", "/v1/backups", {"to": os.path.join(s.dir, "backups")})
        self.assertEqual(backup.status, 202, backup)
        wait_for(lambda: len(self.receiver.received()) >= before + 2, what="the job messages")
        got = {d["body"]["data"]["job_id"]: d for d in self.receiver.received()[before:]}
        for job_id, job_type in [(job.json["job_id"], "expire"),
                                 (backup.json["job_id"], "backup")]:
            message = got[job_id]
            self.assertEqual(message["type"], "job.succeeded")
            self.assertTrue(message["library_ok"] and message["own_ok"])
            self.assertEqual(message["body"]["data"]["job_type"], job_type)
            self.assertEqual(message["body"]["data"]["state"], "succeeded")
            self.assertRegex(message["id"], r"^msg_job_\d+$")
        self.assertIn("members", got[job.json["job_id"]]["body"]["data"]["result"])
        time.sleep(0.5)
        self.assertEqual(len(self.receiver.received()), before + 2, "only the type it wants")
        self.delete_all()

    def test_5_bad_endpoints_name_the_field(self):
        s = self.server
        for body, field in [({}, "url"), ({"url": "ftp://example.com/"}, "url"),
                            ({"url": "https://user:pw@example.com/"}, "url"),
                            ({"url": "https://example.com/", "event_types": ["nope"]},
                             "event_types[0]"),
                            ({"url": "https://example.com/", "description": "x" * 501},
                             "description"),
                            ({"url": "https://example.com/", "colour": "red"}, "colour")]:
            r = s.request("POST", "/v1/webhooks", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.json["errors"][0]["field"], field, (body, r.json))
        self.assertEqual(s.request("GET", "/v1/webhooks/ep_nothing").status, 404)
        self.assertEqual(s.request("POST", "/v1/webhooks", {"url": "https://example.com/"},
                                   key=POS_KEY).status, 403)
        self.assertEqual(s.request("GET", "/v1/webhooks").json["webhooks"], [])


class PrivateAddressTest(unittest.TestCase):
    """The shipped configuration: loopback and private addresses are refused (SSRF)."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_private_addresses_are_refused(self):
        for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/",
                    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data",
                    "http://[::1]/", "http://[fd00::1]/", "http://printer.local/"):
            r = self.server.request("POST", "/v1/webhooks", {"url": url})
            self.assertEqual(r.status, 400, (url, r))
            self.assertEqual(r.json["errors"][0]["field"], "url")
            self.assertIn("allow_private_addresses", r.json["detail"])
        self.assertEqual(self.server.request("POST", "/v1/webhooks",
                                             {"url": "https://crm.example.com/hook"}).status, 201)


class NemesisTest(unittest.TestCase):
    """Receiver misbehaving and down, loyaltyd killed mid-delivery, while tills post."""

    MEMBERS = [f"nm-{i}" for i in range(6)]

    def test_every_message_arrives_at_least_once_in_order_and_none_is_invented(self):
        log = os.path.join(tempfile.mkdtemp(prefix="loyalty-wh-nemesis-"), "received.jsonl")
        receiver = Receiver(env={"RECEIVER_LOG": log}).start()
        server = Server(server_toml=FAST).start()
        try:
            self.run_nemesis(receiver, server)
        finally:
            server.cleanup()
            receiver.stop()

    def run_nemesis(self, receiver, server):
        endpoint = server.request("POST", "/v1/webhooks", {"url": receiver.url()}).json
        receiver.control("secrets", {"secrets": [endpoint["secret"]]})
        receiver.control("script", {"script": [
            {"status": 500}, {"status": 500}, {"status": 503},
            {"status": 429, "retry_after": 1}, {"status": 429, "retry_after": 1},
            {"status": 200, "delay_ms": 2500},  # past the 1 s timeout: failed, sent again
            {"drop": True}, {"status": 500}, {"drop": True}]})
        for member in self.MEMBERS:
            self.assertEqual(server.signup(member).status, 201)
        stop = threading.Event()
        posted = []

        def till(number):
            rng = random.Random(number)
            n = 0
            while not stop.is_set():
                member = rng.choice(self.MEMBERS)
                event_id = f"nm-t{number}-{n}"
                try:
                    r = server.request("POST", "/v1/events/purchase", purchase_body(
                        event_id, member, [line("a", "food", rng.randint(100, 9000))]),
                        key=POS_KEY)
                    if r.status == 200:
                        posted.append(event_id)
                except OSError:
                    pass  # loyaltyd is down for a moment
                n += 1
                time.sleep(0.02)

        tills = [threading.Thread(target=till, args=(n,)) for n in range(3)]
        for t in tills:
            t.start()
        # Every scripted misbehaviour is met (the head message absorbs them, in order).
        wait_for(lambda: len(receiver.received()) >= 12, timeout=60, what="the script played")
        receiver.stop()  # down for a while: connections refused
        time.sleep(2)
        receiver.env["RECEIVER_SECRETS"] = endpoint["secret"]  # from its first request on
        receiver.start()
        receiver.control("script", {"script": [{"status": 502}, {"drop": True}]})
        time.sleep(1)
        server.stop(signal.SIGKILL)  # mid-delivery, and mid-commit for the tills
        server.start()
        time.sleep(2)
        stop.set()
        for t in tills:
            t.join()

        expected = expected_messages(server, self.MEMBERS)
        def all_delivered():
            got = receiver.received()
            acknowledged = {(d["member_id"], d["type"], d["seq"]) for d in got
                            if d["answered"] is not None and 200 <= d["answered"] < 300}
            return expected <= acknowledged
        wait_for(all_delivered, timeout=120, what="every message delivered")
        got = receiver.received()
        self.assertTrue(all(d["library_ok"] and d["own_ok"] for d in got))
        keys = [(d["member_id"], d["type"], d["seq"]) for d in got]
        invented = {k for k in keys if k not in expected}
        self.assertEqual(invented, set(), "messages of nothing that happened")
        # In order per member: no message of a member arrives after a later one of it did.
        reorderings = 0
        newest = {}
        for member, _, seq in keys:
            if seq < newest.get(member, -1):
                reorderings += 1
            newest[member] = max(seq, newest.get(member, -1))
        acknowledged_ids = [d["id"] for d in got
                            if d["answered"] is not None and 200 <= d["answered"] < 300]
        duplicates = len(acknowledged_ids) - len(set(acknowledged_ids))
        retries = sum(1 for d in got if d["answered"] is None or not 200 <= d["answered"] < 300)
        figures = {"messages": len(expected), "received": len(got), "retries": retries,
                   "duplicates": duplicates, "reorderings": reorderings,
                   "purchases": len(posted)}
        print(f"\nwebhook nemesis: {json.dumps(figures)}")
        self.assertEqual(reorderings, 0, figures)
        answers = {d["answered"] for d in got}
        self.assertTrue({500, 503, 429, 502, None} <= answers, answers)
        self.assertGreaterEqual(retries, 10, "the nemesis should have made retries")
        self.assertGreaterEqual(duplicates, 1, "the slow answer came after the timeout: sent again")
        self.assertGreater(len(posted), 20)


class HttpsTest(unittest.TestCase):
    """An https:// endpoint is verified against the CAs loyaltyd trusts."""

    def test_an_untrusted_certificate_fails_and_a_trusted_one_delivers(self):
        folder = tempfile.mkdtemp(prefix="loyalty-wh-tls-")
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        receiver = Receiver(tls=[cert, key]).start()
        untrusting = Server(server_toml=FAST).start()
        trusting = Server(server_toml=FAST, env={"SSL_CERT_FILE": cert}).start()
        try:
            for server in (untrusting, trusting):
                endpoint = server.request("POST", "/v1/webhooks", {"url": receiver.url()}).json
                test = server.request("POST", f"/v1/webhooks/{endpoint['id']}:test")
                self.assertEqual(test.status, 200, test)
                if server is untrusting:
                    self.assertFalse(test.json["delivered"], test)
                    self.assertIn("certificate", test.json["error"])
                else:
                    self.assertTrue(test.json["delivered"], test)
            # Over TLS, a stream of messages goes over one connection (one handshake).
            receiver.control("secrets", {"secrets": [endpoint["secret"]]})
            for i in range(3):
                body = purchase_body(f"tls-p{i}", "tls-1", [line("a", "food", 5000)])
                if i == 0:
                    self.assertEqual(trusting.signup("tls-1").status, 201)
                self.assertEqual(trusting.purchase(body).status, 200)
            wait_for(lambda: sum(d.get("member_id") == "tls-1" for d in receiver.received()) >= 4,
                     what="deliveries over TLS")
            over_tls = [d for d in receiver.received() if d.get("member_id") == "tls-1"]
            self.assertTrue(all(d["library_ok"] for d in over_tls), over_tls)
            self.assertEqual(len({d["connection"] for d in over_tls}), 1, over_tls)
        finally:
            untrusting.cleanup()
            trusting.cleanup()
            receiver.stop()


if __name__ == "__main__":
    unittest.main()
