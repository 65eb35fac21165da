"""GET /v1/openapi.json and GET /metrics on the real server, fetched with curl (no credentials)."""
import asyncio
import glob
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest
from unittest import mock

import websockets

import harness
from harness import line, purchase_body

# name{label="value",...} value; label values may hold any character, escaped \\ \" \n.
SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def curl(url, *extra):
    """Returns (status, content_type, body) of a GET with curl."""
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "-o", "-", "-w", "\n%{http_code} %{content_type}",
         *extra, url], capture_output=True, text=True, check=True)
    body, _, tail = done.stdout.rpartition("\n")
    status, _, content_type = tail.partition(" ")
    return int(status), content_type, body


def parse_metrics(text):
    """{'name{labels}': value} for every sample; fails on a line that is not the text format."""
    samples = {}
    for row in text.splitlines():
        if not row or row.startswith("#"):
            continue
        match = SAMPLE_LINE.match(row)
        assert match, f"not a Prometheus sample line: {row!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


class ObservabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()
        cls.base = f"http://127.0.0.1:{cls.server.port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_version_and_build_info_name_this_build(self):
        """`--version` on both binaries and loyalty_build_info say the version and the commit
        the binaries were built from (config.md)."""
        commit = subprocess.run(["git", "-C", harness.SOURCE_DIR, "rev-parse", "--short=12",
                                 "HEAD"], capture_output=True, text=True).stdout.strip()
        expected = commit if re.fullmatch(r"[0-9a-f]{12}", commit) else "unknown"
        for name, binary in (("loyaltyd", harness.LOYALTYD), ("loyaltyctl", harness.LOYALTYCTL)):
            done = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                  timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertRegex(done.stdout.strip(),
                             rf"^{name} \d+\.\d+\.\d+ \(commit {expected}\)$")
        version = re.search(r" (\d+\.\d+\.\d+) ", done.stdout).group(1)
        metrics = self.server.request("GET", "/metrics", key=None).body
        self.assertIn(f'loyalty_build_info{{version="{version}",commit="{expected}"}} 1\n',
                      metrics)

    def test_openapi_document_is_served_and_lists_purchase(self):
        status, content_type, body = curl(self.base + "/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("application/json"), content_type)
        document = json.loads(body)
        self.assertTrue(document["openapi"].startswith("3.0."))
        self.assertIn("post", document["paths"]["/v1/events/purchase"])
        with open(f"{harness.SOURCE_DIR}/docs/openapi.json") as f:
            self.assertEqual(json.load(f), document, "the server serves docs/openapi.json")

    def test_every_documented_operation_is_routed(self):
        _, _, body = curl(self.base + "/v1/openapi.json")
        for path, item in json.loads(body)["paths"].items():
            if path == "/v1/stream":  # a WebSocket upgrade, not a plain request
                continue
            target = re.sub(r"\{[^}]+\}", "x1", path)
            for method in item:
                r = self.server.request(method.upper(), target, key=None)
                self.assertNotIn(r.status, (404, 405), f"{method} {path}: {r}")

    def test_metrics_count_what_happened(self):
        member = "obs-1"
        self.assertIn(self.server.signup(member).status, (200, 201))
        sent = 5
        for n in range(sent):
            r = self.server.purchase(purchase_body(f"obs-e{n}", member, [line("mug", "retail", 1000)]))
            self.assertEqual(r.status, 200, r)
        # A refusal is counted under its own status.
        r = self.server.purchase(purchase_body("obs-bad", "nobody", [line("mug", "retail", 1000)]))
        self.assertEqual(r.status, 404, r)

        status, content_type, body = curl(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(content_type.startswith("text/plain; version=0.0.4"), content_type)
        samples = parse_metrics(body)
        purchase_route = 'route="/v1/events/purchase"'
        self.assertGreaterEqual(samples[
            f'loyalty_http_requests_total{{{purchase_route},method="POST",status="200"}}'], sent)
        self.assertGreaterEqual(samples[
            f'loyalty_http_requests_total{{{purchase_route},method="POST",status="404"}}'], 1)
        self.assertGreaterEqual(
            samples[f'loyalty_http_request_duration_seconds_count{{{purchase_route}}}'], sent + 1)
        self.assertEqual(
            samples[f'loyalty_http_request_duration_seconds_bucket{{{purchase_route},le="+Inf"}}'],
            samples[f'loyalty_http_request_duration_seconds_count{{{purchase_route}}}'])
        self.assertGreater(samples[f'loyalty_http_request_duration_seconds_sum{{{purchase_route}}}'], 0)
        self.assertGreaterEqual(samples['loyalty_events_applied_total{type="purchase"}'], sent)
        self.assertGreaterEqual(samples['loyalty_events_applied_total{type="signup"}'], 1)
        self.assertGreaterEqual(samples["loyalty_batch_events_count"], 1)
        self.assertGreaterEqual(samples["loyalty_batch_events_sum"], sent + 1)
        self.assertGreaterEqual(samples["loyalty_commit_duration_seconds_count"], 1)
        self.assertGreater(samples["loyalty_commit_duration_seconds_sum"], 0)
        self.assertIn('loyalty_queue_depth{partition="0"}', samples)
        self.assertIn("loyalty_ws_connections", samples)
        self.assertIn("loyalty_ws_slow_consumers_dropped_total", samples)
        self.assertEqual(samples["loyalty_rocksdb_up"], 1)
        self.assertGreater(samples["loyalty_rocksdb_memtable_bytes"], 0)
        self.assertIn("loyalty_rocksdb_block_cache_bytes", samples)
        self.assertGreater(samples["loyalty_rocksdb_live_wal_bytes"], 0)
        self.assertIn("loyalty_rocksdb_pending_compaction_bytes", samples)
        self.assertIn("loyalty_rocksdb_sst_bytes", samples)
        # A small, idle store has not stalled; the counters are there from the start.
        self.assertEqual(samples["loyalty_rocksdb_write_stalls_total"], 0)
        self.assertEqual(samples["loyalty_rocksdb_write_stall_seconds_total"], 0)
        self.assertEqual(samples["loyalty_rocksdb_writes_stopped"], 0)
        # Buckets are cumulative.
        buckets = [v for k, v in samples.items()
                   if k.startswith(f"loyalty_http_request_duration_seconds_bucket{{{purchase_route},")]
        self.assertEqual(buckets, sorted(buckets))

        # A second scrape sees the first.
        _, _, body = curl(self.base + "/metrics")
        self.assertGreaterEqual(
            parse_metrics(body)['loyalty_http_requests_total{route="/metrics",method="GET",status="200"}'], 1)

    def test_websocket_connections_gauge(self):
        def gauge():
            return parse_metrics(curl(self.base + "/metrics")[2])["loyalty_ws_connections"]

        async def with_open_socket():
            url = f"ws://127.0.0.1:{self.server.port}/v1/stream"
            headers = {"Authorization": f"Bearer {harness.APP_KEY}"}
            async with websockets.connect(url, extra_headers=headers, open_timeout=30):
                return await asyncio.get_running_loop().run_in_executor(None, gauge)

        self.assertGreaterEqual(asyncio.run(with_open_socket()), 1)
        for _ in range(100):  # the server notices the close shortly after the client
            if gauge() == 0:
                break
            time.sleep(0.05)
        self.assertEqual(gauge(), 0)

    def test_every_line_logged_for_a_request_carries_its_request_id(self):
        # A failed commit is logged by the writer thread that finished the event, not by the
        # session: that line too must be found from the id the client was answered with. The
        # failure is real: once the write-ahead log may not grow (a file size limit set on the
        # process), the next commit fails. The wrapper makes loyaltyd ignore SIGXFSZ, so that
        # the write fails with EFBIG instead of the signal killing the process.
        folder = tempfile.mkdtemp(prefix="loyalty-obs-")
        self.addCleanup(shutil.rmtree, folder, True)
        wrapper = os.path.join(folder, "loyaltyd")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\ntrap "" XFSZ\nexec {shlex.quote(harness.LOYALTYD)} "$@"\n')
        os.chmod(wrapper, 0o755)
        server = harness.Server()
        self.addCleanup(server.cleanup)
        with mock.patch.object(harness, "LOYALTYD", wrapper):
            server.start()
        self.assertEqual(server.signup("obs-fail").status, 201)
        # The write-ahead log grows well past the server's own log, which must stay writable.
        events = [{"type": "purchase", **purchase_body(f"obs-fill-{i}", "obs-fail",
                                                       [line("mug", "retail", 1000)])}
                  for i in range(300)]
        r = server.request("POST", "/v1/events:batch", events, key=harness.POS_KEY)
        self.assertEqual(r.status, 200, r)
        wal = max(glob.glob(os.path.join(server.data_dir, "*.log")), key=os.path.getsize)
        limit = os.path.getsize(wal)
        self.assertGreater(limit, os.path.getsize(server.log_path) + 64 * 1024)
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (limit, limit))

        r = server.request("POST", "/v1/events/purchase",
                           purchase_body("obs-fail-e1", "obs-fail", [line("mug", "retail", 1000)]),
                           key=harness.POS_KEY, headers={"X-Request-Id": "obs-fail-1"})
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.headers["X-Request-Id"], "obs-fail-1")
        entries = [json.loads(text) for text in server.read_log().splitlines()
                   if text.startswith("{")]  # RocksDB may print plain lines of its own
        failures = [e for e in entries if "storage is unavailable" in e["msg"]]
        self.assertTrue(failures, f"the failed commit was not logged: {entries}")
        for entry in failures:
            self.assertEqual(entry["level"], "error", entry)
            self.assertEqual(entry.get("request_id"), "obs-fail-1", entry)
        requests = [e for e in entries if e["msg"] == "request" and e["request_id"] == "obs-fail-1"]
        self.assertEqual([e["status"] for e in requests], [503])


if __name__ == "__main__":
    unittest.main()
