"""loyaltyd with [tls]: HTTPS and wss:// on one port, checked with curl --cacert and Python's
websockets over an ssl context, against a throw-away self-signed certificate made with the
openssl CLI. Plain HTTP to that port is not served, a silent client is cut during the handshake,
and a [tls] whose key file is missing stops loyaltyd with exit 2 naming the key."""
import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import warnings

import websockets
import websockets.exceptions

from harness import (APP_KEY, LOYALTYD, POS_KEY, SOURCE_DIR, Server, line, purchase_body)

RECEIVE_TIMEOUT = 15
HEADER_TIMEOUT_MS = 1000


def make_certificate(folder):
    """A self-signed EC certificate for 127.0.0.1 and localhost; returns (cert, key) paths."""
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=loyalty-e2e",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


def shipped_config_with(extra):
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        return f.read() + "\n" + extra


def tls_section(cert, key):
    # json.dumps gives a TOML basic string for these plain paths.
    return f"[tls]\ncert_file = {json.dumps(cert)}\nkey_file = {json.dumps(key)}\n"


def read_until_closed(sock, deadline):
    """Reads until the peer closes; returns (bytes read, whether it closed before deadline)."""
    data = b""
    sock.settimeout(0.2)
    while time.time() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="loyalty-tls-")
        cls.cert, cls.key = make_certificate(cls.cert_dir)
        cls.server = Server(server_toml=shipped_config_with(
            f"[limits]\nheader_timeout_ms = {HEADER_TIMEOUT_MS}\n" + tls_section(cls.cert, cls.key)))
        cls.server.start()
        cls.base = f"https://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.cert_dir, ignore_errors=True)
        assert code == 0, code

    def curl(self, method, url, key=None, body=None, *extra):
        """(curl's exit code, HTTP status, body); status 0 when nothing HTTP came back."""
        args = ["curl", "-sS", "--max-time", "30", "-X", method, "-o", "-",
                "-w", "\n%{http_code}", *extra]
        if key is not None:
            args += ["-H", f"Authorization: Bearer {key}"]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        done = subprocess.run(args + [url], capture_output=True, text=True)
        text, _, status = done.stdout.rpartition("\n")
        return done.returncode, int(status or 0), text

    def https(self, method, path, key=None, body=None):
        code, status, text = self.curl(method, self.base + path, key, body,
                                       "--cacert", self.cert)
        self.assertEqual(code, 0, text)
        return status, json.loads(text) if text else None

    def test_healthz_signup_and_purchase_over_https(self):
        status, health = self.https("GET", "/healthz")
        self.assertEqual(status, 200, health)
        status, member = self.https("POST", "/v1/members", APP_KEY,
                                    {"member_id": "tls-m1", "phone": "+8613800000901"})
        self.assertEqual(status, 201, member)
        self.assertEqual(member["balance"]["available"], 0)
        status, answer = self.https("POST", "/v1/events/purchase", POS_KEY,
                                    purchase_body("tls-e1", "tls-m1",
                                                  [line("latte-l", "beverage", 6400)]))
        self.assertEqual(status, 200, answer)
        self.assertGreater(answer["points_earned"], 0)
        status, member = self.https("GET", "/v1/members/tls-m1", APP_KEY)
        self.assertEqual(status, 200, member)
        self.assertEqual(member["balance"]["available"], answer["points_earned"])

    def test_certificate_is_checked_by_the_client(self):
        # Without the CA the self-signed certificate is refused: the client really verifies.
        code, status, _ = self.curl("GET", self.base + "/healthz")
        self.assertNotEqual(code, 0)
        self.assertEqual(status, 0)

    def test_plain_http_to_the_tls_port_is_not_served(self):
        code, status, text = self.curl("GET", f"http://127.0.0.1:{self.server.port}/healthz")
        self.assertNotEqual(code, 0, text)
        self.assertEqual(status, 0)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data, closed = read_until_closed(sock, time.time() + 10)
        self.assertTrue(closed, "the plain-HTTP connection was kept open")
        self.assertFalse(data.startswith(b"HTTP/"), data[:100])
        self.assertNotIn(b"\"status\"", data)

    def test_tls_1_2_and_1_3_only(self):
        for version in ("1.2", "1.3"):
            code, status, text = self.curl("GET", self.base + "/healthz", None, None,
                                           "--cacert", self.cert, f"--tlsv{version}",
                                           "--tls-max", version)
            self.assertEqual((code, status), (0, 200), f"TLS {version}: {text}")
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(self.cert)
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with self.assertRaises(ssl.SSLError):
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
                with old.wrap_socket(raw, server_hostname="127.0.0.1"):
                    pass

    def test_silent_client_is_cut_during_the_handshake(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as sock:
            _, closed = read_until_closed(sock, time.time() + 4 * HEADER_TIMEOUT_MS / 1000)
        self.assertTrue(closed, "a client that never starts the handshake was kept open")
        status, _ = self.https("GET", "/healthz")
        self.assertEqual(status, 200)

    def test_wss_subscribe_then_push_after_a_purchase(self):
        status, _ = self.https("POST", "/v1/members", APP_KEY, {"member_id": "tls-m2"})
        self.assertEqual(status, 201)
        context = ssl.create_default_context(cafile=self.cert)

        async def scenario():
            async with websockets.connect(
                    f"wss://127.0.0.1:{self.server.port}/v1/stream", ssl=context,
                    extra_headers={"Authorization": f"Bearer {APP_KEY}"}) as ws:
                await ws.send(json.dumps({"op": "subscribe", "member_id": "tls-m2"}))
                subscribed = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
                self.assertEqual((subscribed["op"], subscribed["member_id"]),
                                 ("subscribed", "tls-m2"))
                status, answer = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: self.https("POST", "/v1/events/purchase", POS_KEY,
                                             purchase_body("tls-e2", "tls-m2",
                                                           [line("latte-l", "beverage", 3200)])))
                self.assertEqual(status, 200, answer)
                push = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
                while push["type"] != "points.earned":  # a tier change may come first
                    push = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT))
                self.assertEqual(push["member_id"], "tls-m2")
                self.assertEqual(push["reference"], "tls-e2")
                self.assertEqual(push["points"], answer["points_earned"])

        asyncio.run(asyncio.wait_for(scenario(), timeout=120))

    def test_ws_without_tls_is_refused(self):
        async def scenario():
            async with websockets.connect(f"ws://127.0.0.1:{self.server.port}/v1/stream",
                                          extra_headers={"Authorization": f"Bearer {APP_KEY}"},
                                          open_timeout=10):
                pass

        # No HTTP answer at all: the server expected a TLS handshake.
        with self.assertRaises(websockets.exceptions.InvalidMessage):
            asyncio.run(scenario())


class BadTlsConfig(unittest.TestCase):
    def run_loyaltyd(self, extra):
        folder = tempfile.mkdtemp(prefix="loyalty-tls-bad-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = os.path.join(folder, "server.toml")
        with open(config, "w") as f:
            f.write(shipped_config_with(extra(folder)))
        data = os.path.join(folder, "data")
        done = subprocess.run(
            [LOYALTYD, "--config", config, "--data", data, "--listen", "127.0.0.1:0",
             "--program", os.path.join(SOURCE_DIR, "config", "program.toml")],
            capture_output=True, text=True, timeout=60)
        return done, config, data

    def test_missing_key_file_exits_2_naming_the_key_and_file(self):
        def extra(folder):
            cert, _ = make_certificate(folder)
            return tls_section(cert, os.path.join(folder, "no-such-key.pem"))

        done, config, data = self.run_loyaltyd(extra)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertNotIn("listening on", done.stdout)
        lines = done.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        message = json.loads(lines[0])["msg"]
        self.assertIn(config, message)
        self.assertIn("tls.key_file", message)
        self.assertIn("no-such-key.pem", message)
        self.assertFalse(os.path.exists(data), "the data folder was created for a bad config")

    def test_key_of_another_certificate_exits_2(self):
        def extra(folder):
            cert, _ = make_certificate(folder)
            other = os.path.join(folder, "other")
            os.mkdir(other)
            _, key = make_certificate(other)
            return tls_section(cert, key)

        done, _, _ = self.run_loyaltyd(extra)
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("tls.key_file", done.stderr)

    def test_tls_without_key_file_and_unknown_keys_are_refused(self):
        done, _, _ = self.run_loyaltyd(lambda folder: '[tls]\ncert_file = "c.pem"\n')
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("tls.key_file: is required", done.stderr)
        done, _, _ = self.run_loyaltyd(
            lambda folder: '[tls]\ncert_file = "c.pem"\nkey_file = "k.pem"\nciphers = "x"\n')
        self.assertEqual(done.returncode, 2, done.stderr)
        self.assertIn("tls.ciphers: unknown key", done.stderr)


if __name__ == "__main__":
    unittest.main()
