#!/usr/bin/env python3
"""Scale benchmark (issue 6, "Memory bounded by configuration"): loyaltyd over a data folder of
many members (10,000,000 by default).

1. `loadgen populate` signs the members up into a fresh folder (timed, not a target);
2. loyaltyd starts on it, with the shipped server.toml: the start-up time is from the process
   start to its "listening on" line, the RSS is read right after;
3. a closed-loop load of purchases over all members (loadgen http, uniform, so that reads
   reach members all over the store and the member cache fills to its limit) for --seconds,
   sampling the server's RSS every second;
4. loyaltyd stops (exit 0 required) and the folder's flushed size is measured.

The start-up is measured on a warm page cache (the populate just wrote the folder): what an
operator sees after a restart of the service, not after a reboot.

    bench/scale/scale_bench.py --build build                       # 10,000,000 members
    bench/scale/scale_bench.py --build build --members 2000 --seconds 2 --smoke

Prints one table (figure | value | target) and, with --json, writes the figures. With --smoke
it only checks that every step works (the CTest bench-smoke variant) and exits 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_server  # noqa: E402

STARTUP_TARGET_S = 2.0
RSS_TARGET_BYTES = 2 << 30


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def sample_rss(server, stop, samples):
    while not stop.wait(1.0):
        try:
            samples.append(server.rss_bytes())
        except FileNotFoundError:
            return


def folder_bytes(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except FileNotFoundError:
                pass  # a WAL or temporary file RocksDB removed meanwhile
    return total


def bench(args, loadgen):
    figures = {"members": args.members}
    server = bench_server.BenchServer(durability="wal")
    try:
        log(f"populating {args.members:,} members")
        started = time.monotonic()
        subprocess.run([loadgen, "populate", "--data", server.data_dir, "--members",
                        str(args.members)], check=True, stdout=subprocess.DEVNULL)
        figures["populate_seconds"] = time.monotonic() - started

        started = time.monotonic()
        server.start()
        figures["startup_seconds"] = time.monotonic() - started
        figures["rss_after_start_bytes"] = server.rss_bytes()
        log(f"listening after {figures['startup_seconds']:.2f} s, "
            f"RSS {figures['rss_after_start_bytes'] / 2**20:,.0f} MiB")

        stop = threading.Event()
        samples = []
        sampler = threading.Thread(target=sample_rss, args=(server, stop, samples))
        sampler.start()
        try:
            out = subprocess.run(
                [loadgen, "http", "--port", str(server.port), "--members", str(args.members),
                 "--skew", "0", "--refunds", "0", "--redemptions", "0", "--signups", "0",
                 "--connections", "64", "--fractions", "", "--seconds", str(args.seconds),
                 "--warmup", "1", "--max-failed-share", "0.01"],
                check=True, capture_output=True, text=True).stdout
        finally:
            stop.set()
            sampler.join()
        peak = next(line for line in out.splitlines() if line.startswith("peak"))
        figures["load_events_per_s"] = float(peak.split(")", 1)[1].split()[0])
        figures["rss_under_load_peak_bytes"] = max(samples + [server.rss_bytes()])
        figures["rss_peak_bytes"] = server.peak_rss_bytes()
        code = server.stop()
        if code != 0:
            raise RuntimeError(f"loyaltyd exited with {code}: {server.read_log()[-2000:]}")
        figures["disk_bytes"] = folder_bytes(server.data_dir)
        figures["disk_bytes_per_member"] = figures["disk_bytes"] / args.members
    finally:
        server.stop()
        server.cleanup()
    return figures


def table(f):
    mib = 2**20
    rows = [
        ("members stored", f"{f['members']:,}", ""),
        ("populate (loadgen, sign-ups through the engine)",
         f"{f['populate_seconds']:,.0f} s ({f['members'] / f['populate_seconds']:,.0f}/s)", ""),
        ("loyaltyd start-up, process start to listening",
         f"{f['startup_seconds']:.2f} s", f"< {STARTUP_TARGET_S:.0f} s"),
        ("RSS right after start-up", f"{f['rss_after_start_bytes'] / mib:,.0f} MiB", ""),
        ("purchases/s over all members (loadgen http, uniform, 64 connections)",
         f"{f['load_events_per_s']:,.0f}/s", ""),
        ("peak RSS under that load (VmHWM)", f"{f['rss_peak_bytes'] / mib:,.0f} MiB",
         f"≤ {RSS_TARGET_BYTES / 2**30:.0f} GiB"),
        ("bytes on disk per member (after the load)", f"{f['disk_bytes_per_member']:,.0f} B", ""),
    ]
    lines = ["| figure | value | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                        "build"))
    parser.add_argument("--members", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--smoke", action="store_true",
                        help="check that every step works; no targets judged")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    os.environ.setdefault("LOYALTYD", os.path.join(args.build, "loyaltyd"))
    bench_server.LOYALTYD = os.environ["LOYALTYD"]
    loadgen = os.environ.get("LOADGEN", os.path.join(args.build, "bench", "loadgen", "loadgen"))
    for binary in (bench_server.LOYALTYD, loadgen):
        if not os.access(binary, os.X_OK):
            print(f"scale_bench: {binary} is missing; build first", file=sys.stderr)
            return 2
    figures = bench(args, loadgen)
    print(table(figures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    if args.smoke:
        healthy = (figures["load_events_per_s"] > 0 and figures["disk_bytes_per_member"] > 0 and
                   figures["startup_seconds"] > 0)
        return 0 if healthy else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
