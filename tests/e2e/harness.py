"""Starts the real loyaltyd on a free loopback port with a temporary data folder, and talks
HTTP to it. Used by every end-to-end test."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

SOURCE_DIR = os.environ.get("LOYALTY_SOURCE_DIR", os.path.abspath(os.path.join(
    os.path.dirname(__file__), "..", "..")))
LOYALTYD = os.environ.get("LOYALTYD", os.path.join(SOURCE_DIR, "build", "loyaltyd"))
LOYALTYCTL = os.environ.get("LOYALTYCTL", os.path.join(SOURCE_DIR, "build", "loyaltyctl"))

ADMIN_KEY = "loyalty-dev-admin-key"
POS_KEY = "loyalty-dev-pos-key"
APP_KEY = "loyalty-dev-app-key"


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"Response({self.status}, {self.body[:300]!r})"


class Server:
    """One loyaltyd process. Restartable on the same data folder."""

    def __init__(self, server_toml=None, program_toml=None, extra_args=(), env=None):
        self.dir = tempfile.mkdtemp(prefix="loyalty-e2e-")
        self.data_dir = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "server.toml")
        with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
            text = f.read()
        if server_toml is not None:
            text = server_toml
        with open(self.config, "w") as f:
            f.write(text)
        self.program = os.path.join(SOURCE_DIR, "config", "program.toml")
        if program_toml is not None:
            self.program = os.path.join(self.dir, "program.toml")
            with open(self.program, "w") as f:
                f.write(program_toml)
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.process = None
        self.port = None
        self.log_path = os.path.join(self.dir, "loyaltyd.log")

    def start(self, timeout=60):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [LOYALTYD, "--config", self.config, "--program", self.program,
             "--data", self.data_dir, "--listen", "127.0.0.1:0", *self.extra_args],
            stdout=subprocess.PIPE, stderr=self.log, cwd=self.dir, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"loyaltyd exited early ({self.process.wait()}): "
                                   f"{self.read_log()[-2000:]}")
            if "listening on" in line:
                self.port = int(line.strip().rsplit(":", 1)[1])
                return self
        raise RuntimeError("loyaltyd did not start listening in time")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Stops the server and returns its exit code."""
        if self.process is None:
            return None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.process.stdout.close()
        self.log.close()
        self.process = None
        return code

    def restart(self):
        code = self.stop()
        assert code == 0, f"clean shutdown expected, got {code}: {self.read_log()[-2000:]}"
        return self.start()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        if self.process is not None:
            self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, key=ADMIN_KEY, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {}
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode()
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        conn.request(method, path, body=payload, headers=all_headers)
        r = conn.getresponse()
        result = Response(r.status, dict(r.getheaders()), r.read().decode(errors="replace"))
        conn.close()
        return result

    # Conveniences that read like the API.
    def signup(self, member_id, key=APP_KEY, **fields):
        return self.request("POST", "/v1/members", {"member_id": member_id, **fields}, key=key)

    def purchase(self, body, key=POS_KEY):
        return self.request("POST", "/v1/events/purchase", body, key=key)

    def member(self, member_id, key=APP_KEY):
        return self.request("GET", f"/v1/members/{member_id}", key=key)


def purchase_body(event_id, member_id, lines, occurred_at="2026-11-20T10:15:00Z",
                  store_id="s-1", currency="CNY", **extra):
    return {"event_id": event_id, "member_id": member_id, "store_id": store_id,
            "occurred_at": occurred_at, "currency": currency, "lines": lines, **extra}


def line(sku, category, amount_minor, quantity=1):
    return {"sku": sku, "category": category, "quantity": quantity, "amount_minor": amount_minor}


# The program of the operator tests (import, export, jobs, backup): earning, a milestone, two
# tiers by monthly spend, referrals, redemption and expiry, so every job has something to do.
OPERATOR_PROGRAM = """
[program]
id = "{program_id}"
currency = "CNY"

[earning]
points_per_unit = 1
unit_minor = 100

[[milestones]]
purchase_count = 2
bonus_points = 25

[tiers]
metric = "spend"
window_months = 1
retain_months = 0

[[tiers.levels]]
name = "green"
threshold = 0

[[tiers.levels]]
name = "gold"
threshold = 50000
multiplier = 1.5

[referral]
referrer_points = 200
referee_first_purchase_points = 50
qualifying_min_amount_minor = 1000
window_days = 365

[redemption]
points_per_currency_unit = 100
min_points = 10

[expiry]
mode = "days"
days = 90

[[rewards]]
id = "free-drink"
name = "Any drink"
kind = "coupon"
cost_points = 200
per_member = { max = 2, period = "month" }
on_refund = "restore"
"""


def operator_program(program_id):
    return OPERATOR_PROGRAM.replace("{program_id}", program_id)


def ctl(*args, timeout=120):
    """Runs build/loyaltyctl; the finished process, its output as text."""
    return subprocess.run([LOYALTYCTL, *args], capture_output=True, text=True, timeout=timeout)


# Jobs (POST /v1/jobs, GET /v1/jobs/{job_id}).
JOB_TIMEOUT = 120


def job_path(job_id):
    return "/v1/jobs/" + urllib.parse.quote(job_id, safe=":")


def post_job(server, body, key=ADMIN_KEY):
    return server.request("POST", "/v1/jobs", body, key=key)


def wait_job(server, job_id):
    """The job's document once it has succeeded or failed."""
    deadline = time.time() + JOB_TIMEOUT
    while time.time() < deadline:
        r = server.request("GET", job_path(job_id))
        assert r.status == 200, r
        if r.json["state"] in ("succeeded", "failed"):
            return r.json
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def run_job(server, body):
    r = post_job(server, body)
    assert r.status == 202, r
    return wait_job(server, r.json["job_id"])
