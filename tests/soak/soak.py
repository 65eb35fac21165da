#!/usr/bin/env python3
"""Soak test: the real loyaltyd on a temporary data folder under a mixed load at half its
capacity for a while (10 minutes by default), sampling every 10 s the server's resident memory,
its open file descriptors, the p99 latency of the window and RocksDB's pending compaction.
Fails (exit 1) when any of them trends upward without bound (tests/soak/trend.py says how that
is judged), when requests fail (5xx, connection errors, unexpected refusals; more than 0.1%),
when loyaltyd does not stop cleanly, or when `loyaltyctl verify` finds the books off afterwards.

  tests/soak/soak.py                          # 10 minutes, capacity measured first
  tests/soak/soak.py --minutes 60 --rate 400  # an hour at 400 requests/s
Binaries come from $LOYALTYD / $LOYALTYCTL (default build/). Prints a table of samples and the
verdict per figure; writes everything to --json (default soak-<time>.json)."""
import argparse
import json
import multiprocessing
import os
import queue
import re
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

from harness import APP_KEY, LOYALTYCTL, SOURCE_DIR, Server  # noqa: E402
from load import EXPECTED_REFUSALS, run_subscribers, run_worker  # noqa: E402
from trend import RULES, judge  # noqa: E402

FAILED_SHARE_MAX = 0.001  # requests that may fail (5xx, connection errors) before the run fails
MIB = 1024 * 1024


def server_toml(durability):
    """The shipped config, with rate limits off (the soak is one client at hundreds of
    requests/s) and a member cache small enough to fill during warm-up: otherwise it grows by
    design until its limits (member_cache_members, and member_cache_mib as the cached members
    gather lots) and would look like a leak."""
    with open(os.path.join(SOURCE_DIR, "config", "server.toml")) as f:
        text = f.read()
    text = re.sub(r"(?m)^per_key_rps = \d+", "per_key_rps = 0", text)
    text = re.sub(r'(?m)^durability = "\w+"', f'durability = "{durability}"', text)
    return text + "\n[limits]\nmember_cache_members = 2000\nmember_cache_mib = 8\n"


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rocksdb_figures(server):
    """Pending compaction, SST, memtable and block cache bytes from GET /metrics."""
    text = server.request("GET", "/metrics", key=None).body
    figures = {}
    for name in ("pending_compaction", "sst", "memtable", "block_cache"):
        match = re.search(rf"(?m)^loyalty_rocksdb_{name}_bytes (\d+)", text)
        figures[name] = int(match.group(1)) if match else None
    return figures


def p99(latencies):
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[max(0, int(len(ordered) * 0.99 + 0.999999) - 1)]


def failed(statuses):
    """Answers that are neither successes nor the refusals the load provokes."""
    count = 0
    for key, n in statuses.items():
        parts = key.split(" ", 1)
        if parts[0].isdigit() and int(parts[0]) < 400:
            continue
        if parts[0].isdigit() and (int(parts[0]), parts[1] if len(parts) > 1 else "") in \
                EXPECTED_REFUSALS:
            continue
        count += n
    return count


def merge(into, statuses):
    for key, n in statuses.items():
        into[key] = into.get(key, 0) + n


class Load:
    """Worker processes (and WebSocket subscribers) around one server."""

    def __init__(self, server, members, workers, run_id):
        self.server, self.members, self.workers, self.run_id = server, members, workers, run_id
        self.context = multiprocessing.get_context("fork")
        self.reports = self.context.Queue()
        self.push_reports = self.context.Queue()
        self.stop_event = self.context.Event()
        self.processes = []
        self.latencies, self.statuses, self.pushes = [], {}, 0

    def start(self, rate, subscribers=0, seed=0):
        self.stop_event.clear()
        per_worker = rate / self.workers if rate else None
        for index in range(self.workers):
            self.processes.append(self.context.Process(target=run_worker, daemon=True, args=(
                self.server.port, index, f"{self.run_id}{seed}", self.members, seed * 100 + index,
                per_worker, self.stop_event, self.reports)))
        if subscribers:
            followed = self.members[:40]
            self.processes.append(self.context.Process(target=run_subscribers, daemon=True, args=(
                self.server.port, followed, subscribers, self.stop_event, self.push_reports)))
        for process in self.processes:
            process.start()

    def collect(self):
        """Moves what the clients reported into the buffers."""
        while True:
            try:
                report = self.reports.get_nowait()
            except queue.Empty:
                break
            self.latencies.extend(report["latencies_ms"])
            merge(self.statuses, report["statuses"])
        while True:
            try:
                self.pushes += self.push_reports.get_nowait()["pushes"]
            except queue.Empty:
                break

    def drain(self):
        """What was reported since the last drain: latencies, answers, WebSocket pushes."""
        self.collect()
        out = (self.latencies, self.statuses, self.pushes)
        self.latencies, self.statuses, self.pushes = [], {}, 0
        return out

    def stop(self):
        # A process that put on a queue exits only once its reports are read from the pipe:
        # keep reading while they stop.
        self.stop_event.set()
        deadline = time.monotonic() + 30
        while any(p.is_alive() for p in self.processes) and time.monotonic() < deadline:
            self.collect()
            time.sleep(0.05)
        self.collect()
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join()
        self.processes = []


def sign_up(server, count):
    members = [f"soak-m{i}" for i in range(count)]
    for member_id in members:
        r = server.request("POST", "/v1/members", {"member_id": member_id}, key=APP_KEY)
        if r.status not in (200, 201):
            raise RuntimeError(f"sign-up of {member_id} failed: {r}")
    return members


def probe_capacity(load, seconds):
    """Requests/s the server answers with every worker sending as fast as answers come."""
    started = time.monotonic()
    load.start(rate=None, seed=1)
    time.sleep(seconds)
    load.stop()
    latencies, statuses, _ = load.drain()
    return len(latencies) / (time.monotonic() - started), statuses


def print_table(samples):
    print(f"{'t (s)':>6} {'req/s':>7} {'p99 ms':>7} {'RSS MiB':>8} {'memtbl':>7} {'cache':>6} "
          f"{'heap MiB':>8} {'fds':>5} {'pending MiB':>11} {'SST MiB':>8} {'pushes':>7} "
          f"{'failed':>6}")
    for s in samples:
        print(f"{s['t_s']:>6.0f} {s['rps']:>7.0f} {s['p99_ms']:>7.1f} {s['rss_mib']:>8.1f} "
              f"{s['memtable_mib']:>7.1f} {s['block_cache_mib']:>6.1f} {s['heap_mib']:>8.1f} "
              f"{s['fds']:>5} "
              f"{s['pending_compaction_mib']:>11.2f} {s['sst_mib']:>8.1f} {s['ws_pushes']:>7} "
              f"{s['failed']:>6}")


def soak(args):
    run_id = uuid.uuid4().hex[:6]
    server = Server(server_toml=server_toml(args.durability))
    result = {"ok": False, "args": vars(args)}
    load = None
    try:
        server.start()
        pid = server.process.pid
        members = sign_up(server, args.members)
        load = Load(server, members, args.workers, run_id)
        rate = args.rate
        if rate is None:
            capacity, probe_statuses = probe_capacity(load, args.probe_seconds)
            result["capacity_rps"] = capacity
            result["probe_statuses"] = probe_statuses
            rate = capacity * 0.5
            print(f"capacity {capacity:.0f} requests/s ({args.workers} workers, "
                  f"{args.probe_seconds:g} s); soaking at 50%: {rate:.0f} requests/s", flush=True)
        result["rate_rps"] = rate
        load.start(rate=rate, subscribers=args.subscribers, seed=2)

        samples, statuses_total = [], {}
        started = time.monotonic()
        duration = args.minutes * 60
        next_sample = started + args.interval
        while next_sample <= started + duration + 1e-6:
            time.sleep(max(0.0, next_sample - time.monotonic()))
            latencies, statuses, pushes = load.drain()
            merge(statuses_total, statuses)
            rocks = rocksdb_figures(server)
            sample = {
                "t_s": round(time.monotonic() - started, 1),
                "requests": len(latencies),
                "rps": len(latencies) / args.interval,
                "p99_ms": round(p99(latencies), 2),
                "rss_mib": round(rss_mib(pid), 1),
                "fds": open_fds(pid),
                "pending_compaction_mib": round((rocks["pending_compaction"] or 0) / MIB, 3),
                "sst_mib": round((rocks["sst"] or 0) / MIB, 2),
                "memtable_mib": round((rocks["memtable"] or 0) / MIB, 2),
                "block_cache_mib": round((rocks["block_cache"] or 0) / MIB, 2),
                "ws_pushes": pushes,
                "failed": failed(statuses),
            }
            # RocksDB's memtables and block cache are bounded by their configured sizes but
            # fill for many minutes at soak rates: judged apart from the rest of the heap.
            sample["heap_mib"] = round(
                sample["rss_mib"] - sample["memtable_mib"] - sample["block_cache_mib"], 1)
            samples.append(sample)
            if args.verbose:
                print(json.dumps(sample), flush=True)
            next_sample += args.interval
        load.stop()
        latencies, statuses, _ = load.drain()
        merge(statuses_total, statuses)
        result["samples"] = samples
        result["statuses"] = statuses_total

        code = server.stop()
        result["exit_code"] = code
        verify = subprocess.run([LOYALTYCTL, "verify", "--data", server.data_dir],
                                capture_output=True, text=True)
        result["verify_exit_code"] = verify.returncode

        print_table(samples)
        verdicts = {name: judge([s[name] for s in samples], rule)
                    for name, rule in RULES.items()}
        result["verdicts"] = {name: v.as_dict() for name, v in verdicts.items()}
        requests = sum(statuses_total.values())
        failures = failed(statuses_total)
        problems = [f"{name} {v.reason}" for name, v in verdicts.items() if not v.ok]
        if requests == 0:
            problems.append("no request was answered")
        elif failures / requests > FAILED_SHARE_MAX:
            problems.append(f"{failures} of {requests} requests failed: {statuses_total}")
        if code != 0:
            problems.append(f"loyaltyd exited {code} on SIGTERM")
        if verify.returncode != 0:
            problems.append(f"loyaltyctl verify exited {verify.returncode}: "
                            f"{verify.stdout[-500:]}{verify.stderr[-500:]}")
        if sum(s["ws_pushes"] for s in samples) == 0 and args.subscribers:
            problems.append("the WebSocket subscribers received nothing")
        print(f"\n{len(samples)} samples over {duration:g} s at {rate:.0f} requests/s; "
              f"{requests} requests, {failures} failed; answers {statuses_total}")
        for name, verdict in verdicts.items():
            print(f"  {name:<24} {'ok  ' if verdict.ok else 'FAIL'} {verdict.reason}")
        result["problems"] = problems
        result["ok"] = not problems
        print("soak: " + ("passed" if not problems else "FAILED: " + "; ".join(problems)))
    finally:
        if load is not None:
            load.stop()
        if server.process is not None and not result.get("ok"):
            print(f"loyaltyd log tail:\n{server.read_log()[-2000:]}")
        server.cleanup()
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return 0 if result["ok"] else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="soak time (default 10)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, help="requests/s; default: 50%% of the capacity "
                        "measured first")
    parser.add_argument("--probe-seconds", type=float, default=10.0,
                        help="length of the capacity measurement (default 10)")
    parser.add_argument("--workers", type=int, default=8, help="client processes (default 8)")
    parser.add_argument("--subscribers", type=int, default=2,
                        help="WebSocket subscribers (default 2)")
    parser.add_argument("--members", type=int, default=300, help="members signed up first")
    parser.add_argument("--durability", choices=("fsync", "wal"), default="fsync")
    parser.add_argument("--json", default=f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json",
                        help="where to write the samples and verdicts")
    parser.add_argument("--verbose", action="store_true", help="print each sample as it comes")
    sys.exit(soak(parser.parse_args()))


if __name__ == "__main__":
    main()
