#!/usr/bin/env python3
"""The cluster's benchmark (issue 16): what cluster mode costs per event on this machine.

In one run: one loyaltyd alone (fsync), then a 3-node loopback cluster (scripts/cluster.sh:
3 NATS servers with R3 streams, one etcd, 3 loyaltyd with one standby per partition, fsync),
both seeded with the same members through the API. For each: the peak HTTP purchase rate
(bench/wrk/purchase.lua, wrk keep-alive, 64 connections in all; the cluster's spread over its
nodes as a load balancer would), CPU seconds per acknowledged event of each process kind, and
for the cluster the latency at 50% of its peak, open loop (bench/loadgen http, one per node).
Prints a Markdown table and writes the figures as JSON.
  bench/cluster/cluster_bench.py [--build DIR] [--members N] [--seconds S] [--json FILE]"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
SOURCE_DIR = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import bench_server  # noqa: E402
import run_all  # noqa: E402

APP_KEY = "loyalty-dev-app-key"
CONNECTIONS = 64


def clock_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pids):
    return sum(clock_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")


def seed(ports, members):
    """Signs members m-0 … m-(N-1) up through the API, spread over `ports`."""
    def sign_up(i):
        port = ports[i % len(ports)]
        body = json.dumps({"member_id": f"m-{i}"}).encode()
        last = None
        for _ in range(100):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/members", data=body, method="POST",
                headers={"Authorization": f"Bearer {APP_KEY}",
                         "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status == 201:
                        return
            except urllib.error.HTTPError as error:
                if error.code == 409:  # a retry after an answer that was lost
                    return
                last = f"{error.code} {error.read()[:300]!r}"
                if error.code != 503:
                    raise RuntimeError(f"m-{i}: {last}") from error
            except OSError as error:  # a connection the server closed under load
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"m-{i} could not sign up: {last}")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(sign_up, range(members)))


def wait_settled(ports, seconds=120):
    """Until every node names the same owner for every partition twice in a row, a second
    apart: just after `up`, partitions still move to their preferred nodes one at a time."""
    def owners(port):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/cluster", headers={
            "Authorization": "Bearer loyalty-dev-admin-key"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return [p["owner"] for p in json.load(response)["partitions"]]
    deadline, last = time.time() + seconds, None
    while time.time() < deadline:
        views = [owners(port) for port in ports]
        if all(None not in v for v in views) and all(v == views[0] for v in views):
            if views[0] == last:
                return
            last = views[0]
        time.sleep(1)
    raise RuntimeError("the cluster's partitions did not settle")


def wrk_spread(ports, seconds, members, work, name):
    """wrk on every port at once (the connections split between them); the sum of the rates,
    the largest p99 and the median of the p50s."""
    results = [None] * len(ports)
    per_port = max(1, CONNECTIONS // len(ports))

    def one(k):
        env = {"LOADGEN_MEMBERS": str(members), "LOADGEN_RUN": f"{name}{k}-{int(time.time())}"}
        text = run_all.run(["/usr/bin/wrk", "-t1" if len(ports) > 1 else "-t2",
                            f"-c{per_port}", f"-d{seconds}s", "--latency", "-s",
                            os.path.join(BENCH, "wrk", "purchase.lua"),
                            f"http://127.0.0.1:{ports[k]}"], work, f"{name}_{k}", env=env)
        results[k] = run_all.parse_wrk(text)
    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(ports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p50s = sorted(r["p50_ms"] for r in results)
    return {"rps": sum(r["rps"] for r in results), "p50_ms": p50s[len(p50s) // 2],
            "p99_ms": max(r["p99_ms"] for r in results),
            "non_2xx": sum(r["non_2xx"] for r in results),
            "errors": sum(r["errors"] for r in results), "per_node": results}


def open_loop(loadgen, ports, rate, seconds, members, work, name):
    """bench/loadgen http at `rate` in all (split between the ports), open loop."""
    reports = [None] * len(ports)

    def one(k):
        out = os.path.join(work, f"{name}_{k}.json")
        run_all.run([loadgen, "http", "--port", ports[k], "--members", members,
                     "--connections", max(1, CONNECTIONS // len(ports)),
                     "--rate", f"{rate / len(ports):.0f}", "--seconds", seconds,
                     "--warmup", 2, "--refunds", 0, "--redemptions", 0,
                     "--run-id", f"{name}{k}-{int(time.time())}", "--json", out],
                    work, f"{name}_{k}")
        reports[k] = run_all.phase(run_all.read_json(out), "open loop")
    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(ports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"events_per_s": sum(r["events_per_s"] for r in reports),
            "p50_ms": max(r["p50_us"] for r in reports) / 1000,
            "p99_ms": max(r["p99_us"] for r in reports) / 1000,
            "failed": sum(r.get("failed", 0) for r in reports)}


def single(args, work):
    server = bench_server.BenchServer(durability="fsync")
    try:
        server.start()
        seed([server.port], args.members)
        cpu, peak = server.cpu_seconds(), wrk_spread([server.port], args.seconds, args.members,
                                                    work, "single_peak")
        cpu = server.cpu_seconds() - cpu
        peak["cpu_per_event_ms"] = {"loyaltyd": 1000 * cpu / (peak["rps"] * args.seconds)}
        return peak
    finally:
        server.stop()
        server.cleanup()


def cluster(args, work):
    folder = tempfile.mkdtemp(prefix="loyalty-cluster-bench-")
    script = os.path.join(SOURCE_DIR, "scripts", "cluster.sh")
    up = subprocess.run([script, "up", "--dir", folder, "--nodes", "3", "--partitions",
                         str(args.partitions), "--durability", "fsync", "--no-rate-limits"],
                        capture_output=True, text=True, timeout=300,
                        env={**os.environ, "LOYALTYD": os.path.join(args.build, "loyaltyd")})
    if up.returncode != 0:
        raise RuntimeError("cluster.sh up failed:\n" + up.stdout + up.stderr)
    try:
        kinds, ports = {}, []
        for line in up.stdout.splitlines():
            kind, name, url, _, pid = line.split()
            kinds.setdefault(kind, []).append(int(pid))
            if kind == "loyaltyd":
                ports.append(int(url.rsplit(":", 1)[1]))
        wait_settled(ports)
        seed(ports, args.members)
        before = {kind: cpu_seconds(pids) for kind, pids in kinds.items()}
        peak = wrk_spread(ports, args.seconds, args.members, work, "cluster_peak")
        events = peak["rps"] * args.seconds
        peak["cpu_per_event_ms"] = {kind: 1000 * (cpu_seconds(pids) - before[kind]) / events
                                    for kind, pids in kinds.items()}
        peak["half"] = open_loop(args.loadgen, ports, peak["rps"] / 2, args.seconds,
                                 args.members, work, "cluster_half")
        return peak
    finally:
        subprocess.run([script, "down", "--dir", folder], capture_output=True, timeout=300)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(SOURCE_DIR, "build"))
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--partitions", type=int, default=32)
    parser.add_argument("--json")
    args = parser.parse_args()
    args.loadgen = os.path.join(args.build, "bench", "loadgen", "loadgen")
    os.environ.setdefault("LOYALTYD", os.path.join(args.build, "loyaltyd"))
    bench_server.LOYALTYD = os.environ["LOYALTYD"]
    work = tempfile.mkdtemp(prefix="loyalty-cluster-bench-work-")
    results = {"single": single(args, work), "cluster": cluster(args, work)}
    s, c = results["single"], results["cluster"]
    rows = [
        ("HTTP purchases req/s, peak (wrk, 64 connections)", f"{c['rps']:.0f}",
         f"{s['rps']:.0f}", f"{c['rps'] / s['rps']:.2f}x", ">= 0.3x"),
        ("  p50 / p99 at the peak, ms", f"{c['p50_ms']:.1f} / {c['p99_ms']:.1f}",
         f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f}", "", ""),
        ("At 50% of the cluster's peak, open loop: p50 / p99 ms",
         f"{c['half']['p50_ms']:.1f} / {c['half']['p99_ms']:.1f}", "", "",
         "p99 <= 10 ms"),
    ]
    for kind, value in sorted(c["cpu_per_event_ms"].items()):
        alone = s["cpu_per_event_ms"].get(kind)
        rows.append((f"CPU ms per acknowledged event: {kind} (all of them)", f"{value:.3f}",
                     "" if alone is None else f"{alone:.3f}", "", ""))
    print("| figure | cluster (3 nodes) | single | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nnon-2xx: cluster {c['non_2xx']}, single {s['non_2xx']}; open-loop failures "
          f"{c['half']['failed']}; work folder {work}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
