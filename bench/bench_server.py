"""Starts build/loyaltyd for a benchmark: a temporary folder with a server.toml made from the
shipped config/server.toml (same keys) with the durability asked for and rate limits off (a
load generator is one client at many thousand requests a second), its data folder, a free
port, and stderr (one log line per request) kept in a file there. Used by bench/run.sh and the
bench-smoke test."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

SOURCE_DIR = os.environ.get("LOYALTY_SOURCE_DIR", os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..")))
LOYALTYD = os.environ.get("LOYALTYD", os.path.join(SOURCE_DIR, "build", "loyaltyd"))


def bench_config(durability):
    """config/server.toml with `durability` and the rate limits turned off."""
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    text = re.sub(r'(?m)^durability = "\w+"', f'durability = "{durability}"', text)
    text = re.sub(r"(?m)^(per_key_rps|per_key_burst|per_member_token_rps|"
                  r"per_member_token_burst) = \d+", r"\1 = 0", text)
    return text


class BenchServer:
    def __init__(self, durability="fsync", data_dir=None):
        self.dir = tempfile.mkdtemp(prefix="loyalty-bench-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "server.toml")
        with open(self.config, "w") as f:
            f.write(bench_config(durability))
        self.log_path = os.path.join(self.dir, "loyaltyd.log")
        self.process = None
        self.port = None

    def start(self, timeout=120):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [LOYALTYD, "--config", self.config, "--data", self.data_dir,
             "--program", os.path.join(SOURCE_DIR, "config", "program.toml"),
             "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=self.log, cwd=self.dir)
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

    def peak_rss_bytes(self):
        """The server's peak resident set (VmHWM), while it runs."""
        return self._status_bytes("VmHWM:")

    def rss_bytes(self):
        """The server's resident set now (VmRSS), while it runs."""
        return self._status_bytes("VmRSS:")

    def cpu_seconds(self):
        """User and system CPU the server has used so far, over all its threads."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            # The fields after the command's closing parenthesis; utime and stime are 14th/15th.
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _status_bytes(self, field):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self, timeout=120):
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.process.stdout.close()
        self.log.close()
        self.process = None
        return code

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
