"""bench-smoke for the benchmarks that need a running server: populates a small data folder
with loadgen, starts the real loyaltyd on it (a free port, rate limits off as in bench/run.sh),
then runs for a moment each of: loadgen http (closed loop and an open loop), loadgen ws with
JSON and FlatBuffers frames, and wrk with bench/wrk/purchase.lua, batch.lua and healthz.lua
(responses checked), and at the end loadgen disk on the stopped server's folder. Fails when any of them fails or its events are refused. Binaries come
from LOYALTYD and LOADGEN (set by CTest)."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_server import BenchServer  # noqa: E402

SOURCE_DIR = os.environ.get("LOYALTY_SOURCE_DIR", os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..")))
LOADGEN = os.environ["LOADGEN"]
WRK = "/usr/bin/wrk"
MEMBERS = 1000


class ServerBenchmarksSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = BenchServer(durability="wal")
        subprocess.run([LOADGEN, "populate", "--data", cls.server.data_dir,
                        "--members", str(MEMBERS)], check=True, stdout=subprocess.DEVNULL)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.server.stop()
            assert code == 0, f"loyaltyd did not stop cleanly: {code}"
            # loadgen disk: the flushed size of the folder the runs above filled.
            out = subprocess.run([LOADGEN, "disk", "--data", cls.server.data_dir, "--members",
                                  str(MEMBERS)], check=True, capture_output=True, text=True).stdout
            per_member = float(re.search(r"bytes_per_member\s+([\d.Ee+-]+)", out).group(1))
            assert per_member > 0, out
        finally:
            cls.server.cleanup()

    def loadgen(self, *args):
        result = subprocess.run(
            [LOADGEN, *args, "--port", str(self.server.port), "--members", str(MEMBERS),
             "--seconds", "1", "--warmup", "0.2", "--max-failed-share", "0.05"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result.stdout

    def wrk(self, script, connections=8):
        env = {**os.environ, "LOADGEN_MEMBERS": str(MEMBERS), "WRK_CHECK": "1",
               "LOADGEN_BATCH": "20", "LOADGEN_REFUND_LAG": "32"}
        result = subprocess.run(
            [WRK, "-t1", f"-c{connections}", "-d1s", "--latency", "-s",
             os.path.join(SOURCE_DIR, "bench", "wrk", script),
             f"http://127.0.0.1:{self.server.port}"],
            capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        checked = re.search(r"wrk-check \w+ ok=(\d+) failed=(\d+)", result.stdout)
        self.assertIsNotNone(checked, result.stdout)
        ok, failed = int(checked.group(1)), int(checked.group(2))
        self.assertGreater(ok, 0, result.stdout)
        self.assertLessEqual(failed, ok * 0.05, result.stdout)
        return result.stdout

    def test_loadgen_http_peak_and_open_loop(self):
        out = self.loadgen("http", "--connections", "8", "--fractions", "0.5")
        self.assertIn("peak (closed loop)", out)
        self.assertIn("open loop 50%", out)

    def test_loadgen_ws_json_frames(self):
        self.assertIn("peak (closed loop)", self.loadgen("ws", "--frames", "json", "--fractions", ""))

    def test_loadgen_ws_flatbuffers_frames(self):
        out = self.loadgen("ws", "--frames", "flatbuffers", "--fractions", "")
        self.assertIn("peak (closed loop)", out)

    def test_wrk_purchase_script(self):
        self.assertIn("Requests/sec", self.wrk("purchase.lua"))

    def test_wrk_batch_script(self):
        self.assertIn("Requests/sec", self.wrk("batch.lua", connections=2))

    def test_wrk_healthz_script(self):
        self.assertIn("Requests/sec", self.wrk("healthz.lua"))

    def test_wrk_member_read_script(self):
        self.assertIn("Requests/sec", self.wrk("member.lua"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
