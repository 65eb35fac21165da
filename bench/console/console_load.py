#!/usr/bin/env python3
"""How fast the operator console's figures load with many members stored (issue 19: every figure
in under 300 ms with 1,000,000 members).

1. `loadgen populate` signs the members up into a fresh folder;
2. loyaltyd starts on it and `loadgen http` posts purchases over all members for --seconds, so
   the overview has days, lots and tiers to show;
3. every request a console screen makes is timed --repeat times over one keep-alive connection
   (the browser's way): the overview's figures, member search by id, phone and tier, a member's
   page and ledger, a purchase's breakdown, the program's history, rewards, webhooks;
4. with Chromium (Debian's, through Selenium) present: the console itself, from pressing "Sign
   in" to the overview's figures on screen, and from a member's link to their balance on screen.

    bench/console/console_load.py --build build                    # 1,000,000 members
    bench/console/console_load.py --build build --members 2000 --seconds 2 --smoke

Prints one table (what | median | slowest | target) with the medians of one run and, with
--json, writes the figures. With --smoke it only checks that every step works (bench-smoke)."""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench_server  # noqa: E402

ADMIN_KEY = "loyalty-dev-admin-key"  # config/server.toml's dev admin key
TARGET_MS = 300.0


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def phone_of(index):  # bench/loadgen/workload.cpp phone_of
    return f"+86138{index % 100_000_000:08d}"


def timed_requests(port, targets, repeat):
    """{name: [milliseconds…]} for GET of every target, `repeat` times each, one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    out = {}
    for name, target in targets:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {target}: {response.status} {body[:300]!r}")
        out[name] = times
    conn.close()
    return out


def first_purchase_id(port, member_id):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"/v1/members/{member_id}/ledger?limit=50",
                 headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    entries = json.loads(conn.getresponse().read())["entries"]
    conn.close()
    return next((e["reference"] for e in entries if e["type"] == "earn"), None)


def browser_times(port, member_id, repeat):
    """Seconds, in the console: sign-in to the overview's figures; a member's link to their
    balance. None when Chromium or Selenium is not on this machine."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as seen
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return None
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        return None
    import tempfile
    profile = tempfile.mkdtemp(prefix="loyalty-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    browser.set_window_size(1280, 800)
    wait = WebDriverWait(browser, 30, poll_frequency=0.005)  # the default polls every 0.5 s
    overview, member_page = [], []
    try:
        for _ in range(repeat):
            browser.get(f"http://127.0.0.1:{port}/console/")
            browser.execute_script("sessionStorage.clear()")
            browser.refresh()
            field = wait.until(seen.visibility_of_element_located((By.ID, "key")))
            field.send_keys(ADMIN_KEY)
            started = time.perf_counter()
            field.submit()
            wait.until(seen.visibility_of_element_located((By.ID, "stat-members")))
            wait.until(seen.visibility_of_element_located((By.ID, "tiers-chart")))
            overview.append((time.perf_counter() - started) * 1000)
            browser.execute_script("location.hash = '#/members'")
            wait.until(seen.visibility_of_element_located((By.ID, "member-query")))
            started = time.perf_counter()
            browser.execute_script(f"location.hash = '#/members/{member_id}'")
            wait.until(seen.visibility_of_element_located((By.ID, "balance-available")))
            wait.until(seen.visibility_of_element_located((By.CSS_SELECTOR, "#ledger tbody tr")))
            member_page.append((time.perf_counter() - started) * 1000)
    finally:
        browser.quit()
        import shutil
        shutil.rmtree(profile, ignore_errors=True)
    return {"console: sign-in to the overview's figures and charts": overview,
            "console: a member's page with balance and ledger": member_page}


def bench(args, loadgen):
    figures = {"members": args.members}
    server = bench_server.BenchServer(durability="wal")
    try:
        log(f"populating {args.members:,} members")
        started = time.monotonic()
        subprocess.run([loadgen, "populate", "--data", server.data_dir, "--members",
                        str(args.members)], check=True, stdout=subprocess.DEVNULL)
        figures["populate_seconds"] = time.monotonic() - started
        server.start()
        log(f"purchases over all members for {args.seconds} s")
        subprocess.run(
            [loadgen, "http", "--port", str(server.port), "--members", str(args.members),
             "--skew", "0.99", "--refunds", "0.05", "--redemptions", "0.05", "--signups", "0",
             "--connections", "32", "--fractions", "", "--seconds", str(args.seconds),
             "--warmup", "1", "--max-failed-share", "0.05"],
            check=True, capture_output=True, text=True)
        busy = "m-0"  # Zipf's most active member: the longest ledger
        middle = f"m-{args.members // 2}"
        purchase = first_purchase_id(server.port, busy)
        targets = [
            ("overview: GET /v1/stats (30 days)", "/v1/stats?days=30"),
            ("overview: GET /v1/stats (366 days)", "/v1/stats?days=366"),
            ("members: search by id prefix", f"/v1/members?limit=50&query={middle}"),
            ("members: search by phone", "/v1/members?limit=50&query=" +
             phone_of(args.members // 2).replace("+", "%2B")),
            ("members: first page of a tier", "/v1/members?limit=50&tier=green"),
            ("member page: GET /v1/members/{id}", f"/v1/members/{busy}"),
            ("member page: ledger, first 50", f"/v1/members/{busy}/ledger?limit=50"),
            ("program: GET /v1/program/versions", "/v1/program/versions"),
            ("rewards: GET /v1/rewards", "/v1/rewards"),
            ("webhooks: GET /v1/webhooks", "/v1/webhooks"),
        ]
        if purchase:
            targets.append(("member page: why a purchase earned", f"/v1/purchases/{purchase}"))
        log("timing the console's requests")
        figures["requests_ms"] = timed_requests(server.port, targets, args.repeat)
        stats = json.loads(subprocess.run(
            ["curl", "-s", "-H", f"Authorization: Bearer {ADMIN_KEY}",
             f"http://127.0.0.1:{server.port}/v1/stats"], capture_output=True, text=True).stdout)
        figures["stats_members"] = stats["members"]
        figures["stats_active_members"] = stats["active_members"]
        if not args.no_browser:
            log("timing the console in Chromium")
            figures["browser_ms"] = browser_times(server.port, busy, args.repeat_browser)
        code = server.stop()
        if code != 0:
            raise RuntimeError(f"loyaltyd exited with {code}: {server.read_log()[-2000:]}")
    finally:
        server.stop()
        server.cleanup()
    return figures


def table(f):
    rows = []
    for name, times in list(f["requests_ms"].items()) + list((f.get("browser_ms") or {}).items()):
        rows.append((name, f"{statistics.median(times):,.1f} ms", f"{max(times):,.1f} ms",
                     f"< {TARGET_MS:.0f} ms"))
    lines = [f"{f['members']:,} members stored (populate {f['populate_seconds']:,.0f} s); "
             f"GET /v1/stats counts {f['stats_members']:,} members, "
             f"{f['stats_active_members']:,} active", "",
             "| what | median | slowest | target |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    if f.get("browser_ms") is None:
        lines.append("(no Chromium here: the console itself was not timed)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                        "build"))
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=20, help="times each request is timed")
    parser.add_argument("--repeat-browser", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
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
            print(f"console_load: {binary} is missing; build first", file=sys.stderr)
            return 2
    figures = bench(args, loadgen)
    print(table(figures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    if args.smoke:
        return 0 if figures["stats_members"] == args.members else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
