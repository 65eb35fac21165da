"""CORS end to end, with curl sending the headers a browser sends (Chromium's, for an H5 page in a
mini-program's web view on https://shop.example.com calling the API with a bearer key): the
preflight of an allowed origin is answered without credentials, the real request's answer may
be read by that page only, and another origin's preflight is refused."""
import subprocess
import unittest

from harness import APP_KEY, Server
from test_security import server_toml

SHOP = "https://shop.example.com"
BROWSER = ["-H", "User-Agent: Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120.0",
           "-H", "Accept: */*", "-H", "Sec-Fetch-Mode: cors", "-H", "Sec-Fetch-Site: cross-site",
           "-H", "Sec-Fetch-Dest: empty", "-H", "Accept-Language: zh-CN,zh;q=0.9"]


def curl(port, method, path, headers, body=None):
    """(status, {lower-case header: value}, body) of one request sent by curl."""
    command = ["curl", "-sS", "-o", "-", "-D", "/dev/stderr", "-X", method,
               f"http://127.0.0.1:{port}{path}"] + BROWSER
    for name, value in headers:
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["--data-binary", body]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    lines = done.stderr.strip().splitlines()
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, done.stdout


class CorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(server_toml=server_toml(
            f'[http]\ncors_origins = ["{SHOP}", "http://localhost:5173"]\n')).start()
        assert cls.server.signup("m-cors").status == 201

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_an_allowed_pages_preflight_and_request(self):
        status, fields, _ = curl(self.server.port, "OPTIONS", "/v1/members/m-cors", [
            ("Origin", SHOP), ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization")])
        self.assertEqual(status, 204, fields)
        self.assertEqual(fields["access-control-allow-origin"], SHOP)
        self.assertIn("authorization", fields["access-control-allow-headers"].lower())
        self.assertIn("GET", fields["access-control-allow-methods"])
        self.assertNotIn("access-control-allow-credentials", fields)

        status, fields, body = curl(self.server.port, "GET", "/v1/members/m-cors", [
            ("Origin", SHOP), ("Authorization", f"Bearer {APP_KEY}")])
        self.assertEqual(status, 200, body)
        self.assertEqual(fields["access-control-allow-origin"], SHOP)
        self.assertIn("Origin", fields["vary"])
        self.assertIn("X-Request-Id", fields["access-control-expose-headers"])
        self.assertIn('"member_id":"m-cors"', body)

        # A page's POST with a JSON body is preflighted with its Content-Type.
        status, fields, _ = curl(self.server.port, "OPTIONS", "/v1/members", [
            ("Origin", "http://localhost:5173"), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization,content-type")])
        self.assertEqual(status, 204)
        self.assertEqual(fields["access-control-allow-origin"], "http://localhost:5173")
        self.assertIn("content-type", fields["access-control-allow-headers"].lower())
        # Errors are readable too: the page can show why.
        status, fields, body = curl(self.server.port, "GET", "/v1/members/nobody", [
            ("Origin", SHOP), ("Authorization", f"Bearer {APP_KEY}")])
        self.assertEqual(status, 404)
        self.assertEqual(fields["access-control-allow-origin"], SHOP)

    def test_another_origin_is_refused_and_cannot_read(self):
        status, fields, body = curl(self.server.port, "OPTIONS", "/v1/members/m-cors", [
            ("Origin", "https://evil.example.com"), ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization")])
        self.assertEqual(status, 403, body)
        self.assertNotIn("access-control-allow-origin", fields)
        status, fields, _ = curl(self.server.port, "GET", "/v1/members/m-cors", [
            ("Origin", "https://evil.example.com"), ("Authorization", f"Bearer {APP_KEY}")])
        self.assertEqual(status, 200, "served (a server-side client has no origin rules)")
        self.assertNotIn("access-control-allow-origin", fields, "but no page may read it")

    def test_none_by_default(self):
        plain = Server(server_toml=server_toml()).start()
        try:
            status, fields, _ = curl(plain.port, "OPTIONS", "/v1/rewards", [
                ("Origin", SHOP), ("Access-Control-Request-Method", "GET")])
            self.assertEqual(status, 403)
            status, fields, _ = curl(plain.port, "GET", "/v1/rewards", [
                ("Origin", SHOP), ("Authorization", f"Bearer {APP_KEY}")])
            self.assertEqual(status, 200)
            self.assertNotIn("access-control-allow-origin", fields)
        finally:
            plain.cleanup()


if __name__ == "__main__":
    unittest.main()
