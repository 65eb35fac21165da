#!/usr/bin/env python3
"""Operations throughput (issue 5): `loyaltyctl import` of a year of history; `verify`,
`expire` and `tiers evaluate` over it; then `loyaltyctl recalc` of the whole year under changed
earning rules (dry run, apply, a second apply that must change nothing) and `verify` again.
Prints one markdown table (figure | value | events | seconds) and can write it (--out) and
the raw figures (--json).

  bench/ops/ops_bench.py [--build DIR] [--quick | --events N] [--seed S] [--out FILE.md]
                         [--json FILE] [--keep]

The history is generated here, deterministic for a seed, in the NDJSON `loyaltyctl import`
reads: members signing up over the year (the first 40% in its first month, as a migrated base;
every fifth later one with an earlier member's referral code, all carrying their printed code),
purchases of 1-20 lines (60% 1-3, 30% 4-10, 10% 11-20) over 200 SKUs in the shipped program's
categories (beverage earns x2, latte-l x1.5, gift cards nothing) at 20 stores, ~5% of them
refunded later (a third in full, a third partly by amount, a third by lines), and redemptions of
100-1000 points by members sure to have them. The full profile has 1,000,000 events; --quick
20,000 (the bench-smoke test). A failed check (rows refused, a second apply that writes
adjustments, verify finding a problem) fails the run with exit code 1."""
import argparse
import datetime
import heapq
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 20_000
DEFAULT_SEED = 20261123

# The year of history: whole days, in the past on any machine that runs this (imports refuse
# events more than 5 minutes ahead of the clock). The jobs run as of a month after it, so the
# first month's points (365-day expiry) are past their date.
HISTORY_START = datetime.datetime(2025, 10, 1, tzinfo=datetime.timezone.utc)
HISTORY_DAYS = 365
JOBS_AS_OF = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)

MEMBERS_PER_EVENT = 0.1      # one sign-up in ten events
REFUND_SHARE = 0.05          # of purchases
REDEMPTION_SHARE = 0.02      # of purchases (only members sure to have the points)
REFERRED_SHARE = 0.2         # of the members who join after the migrated base
MIGRATED_SHARE = 0.4         # of the members, joined in the first 30 days
PHONE_SHARE = 0.7
STORES = 20
SKUS = 200
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

# SKU k's category by k % 20: mostly drinks and food, a few beans, merchandise and gift cards
# (excluded from earning by the shipped program). Prices are per unit, in fen.
CATEGORY_OF = (["beverage"] * 8 + ["food"] * 6 + ["beans"] * 3 + ["merch"] * 2 + ["gift-card"])
PRICE_RANGE = {"beverage": (1200, 4200), "food": (800, 6800), "beans": (6800, 16800),
               "merch": (5000, 30000), "gift-card": (10000, 50000)}


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rfc3339(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# --- the history ---------------------------------------------------------------------------

def sku_table(rng):
    table = []
    for k in range(SKUS):
        category = CATEGORY_OF[k % len(CATEGORY_OF)]
        low, high = PRICE_RANGE[category]
        name = "latte-l" if k == 0 else f"sku-{k:03d}"
        table.append((name, category, rng.randrange(low, high, 100)))
    return table


def line_count(rng):
    draw = rng.random()
    if draw < 0.6:
        return rng.randint(1, 3)
    if draw < 0.9:
        return rng.randint(4, 10)
    return rng.randint(11, 20)


def referral_codes(rng, count):
    codes, seen = [], set()
    while len(codes) < count:
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


def refund_row(rng, refund_id, purchase_id, at, lines):
    """A third in full, a third partly by amount, a third by lines (some of them in part)."""
    total = sum(amount for _, _, _, amount in lines)
    row = {"type": "refund", "event_id": refund_id, "original_event_id": purchase_id,
           "occurred_at": rfc3339(at)}
    kind = rng.randrange(3)
    if kind == 0:
        row["amount_minor"] = total
    elif kind == 1:
        row["amount_minor"] = max(1, total * rng.randint(10, 90) // 100)
    else:
        chosen = rng.sample(lines, rng.randint(1, len(lines)))
        row["lines"] = [{"sku": sku, "amount_minor": amount if rng.random() < 0.5
                         else max(1, amount // 2)} for sku, _, _, amount in chosen]
    return row


def generate(path, events, seed):
    """Writes the history to `path` in time order; answers what it holds."""
    rng = random.Random(seed)
    skus = sku_table(rng)
    members = max(50, int(events * MEMBERS_PER_EVENT))
    # Refunds and redemptions add ~6% to the purchases (refunds due after the year and
    # redemptions of members not sure to have the points are left out): dividing by 1.05
    # lands a little above the events asked for.
    purchases_target = int((events - members) / (1 + REFUND_SHARE))
    start = int(HISTORY_START.timestamp())
    day_seconds = 86_400

    # Sign-ups, in time order: member index = join order.
    joins = []
    for i in range(members):
        day = rng.randrange(30) if i < members * MIGRATED_SHARE else rng.randrange(HISTORY_DAYS)
        joins.append(start + day * day_seconds + rng.randrange(day_seconds))
    joins.sort()
    codes = referral_codes(rng, members)

    counts = {"signup": 0, "purchase": 0, "refund": 0, "redemption": 0, "lines": 0}
    earn_floor = [0] * members     # points the member surely has (see below)
    earned_today = {}              # member -> floor of today's purchases, settled at day end
    refunded = [False] * members   # a refund is coming: no redemptions from then on
    pending = []                   # (time, seq, row) of refunds and redemptions still to come
    seq = 0
    next_member = 0
    purchase_no = 0
    with open(path, "w") as out:
        for day in range(HISTORY_DAYS):
            day_start = start + day * day_seconds
            day_end = day_start + day_seconds
            rows = []
            while next_member < members and joins[next_member] < day_end:
                i = next_member
                row = {"type": "signup", "member_id": f"m-{i:07d}",
                       "joined_at": rfc3339(joins[i]), "assigned_referral_code": codes[i]}
                if rng.random() < PHONE_SHARE:
                    row["phone"] = f"+86139{i:08d}"
                if i >= members * MIGRATED_SHARE and rng.random() < REFERRED_SHARE:
                    row["referral_code"] = codes[rng.randrange(i)]
                rows.append((joins[i], seq, row))
                seq += 1
                next_member += 1
            joined = next_member
            # Purchases: as many each day, by members who have joined, the longer-standing
            # ones more often (u^1.5 leans towards the low, early indices).
            remaining_days = HISTORY_DAYS - day
            todays = (purchases_target - purchase_no) // remaining_days
            for _ in range(todays if joined else 0):
                i = min(joined - 1, int(joined * rng.random() ** 1.5))
                at = max(day_start + 7 * 3600 + rng.randrange(15 * 3600), joins[i] + 60)
                chosen = rng.sample(skus, line_count(rng))
                lines = []
                for name, category, price in chosen:
                    quantity = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                    lines.append((name, category, quantity, price * quantity))
                event_id = f"p-{purchase_no:08d}"
                purchase_no += 1
                rows.append((at, seq, {
                    "type": "purchase", "event_id": event_id, "member_id": f"m-{i:07d}",
                    "store_id": f"s-{rng.randrange(1, STORES + 1)}", "occurred_at": rfc3339(at),
                    "currency": "CNY",
                    "lines": [{"sku": s, "category": c, "quantity": q, "amount_minor": a}
                              for s, c, q, a in lines]}))
                seq += 1
                counts["lines"] += len(lines)
                # A lower bound of what it earns: 1 point per whole 1.00 CNY of eligible spend
                # (multipliers, tiers and bonuses only add). Counted from the next day on: a
                # purchase made later today may happen after a redemption made now.
                earned_today[i] = earned_today.get(i, 0) + \
                    sum(a for _, c, _, a in lines if c != "gift-card") // 100
                if rng.random() < REFUND_SHARE:
                    refund_at = at + 3600 + rng.randrange(14 * day_seconds)
                    if refund_at < start + HISTORY_DAYS * day_seconds:
                        refunded[i] = True
                        heapq.heappush(pending, (refund_at, seq, refund_row(
                            rng, f"r-{event_id}", event_id, refund_at, lines)))
                        seq += 1
                elif (not refunded[i] and earn_floor[i] >= 200 and
                      rng.random() < REDEMPTION_SHARE / (1 - REFUND_SHARE)):
                    points = min(1000, earn_floor[i] // 2) // 100 * 100
                    earn_floor[i] -= points
                    redeem_at = at + 300
                    heapq.heappush(pending, (redeem_at, seq, {
                        "type": "redemption", "member_id": f"m-{i:07d}",
                        "redemption_id": f"x-{event_id}", "points": points,
                        "occurred_at": rfc3339(redeem_at)}))
                    seq += 1
            for i, points in earned_today.items():
                earn_floor[i] += points
            earned_today.clear()
            while pending and pending[0][0] < day_end:
                rows.append(heapq.heappop(pending))
            rows.sort(key=lambda r: (r[0], r[1]))
            for _, _, row in rows:
                counts[row["type"]] += 1
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
    counts["events"] = counts["signup"] + counts["purchase"] + counts["refund"] + \
        counts["redemption"]
    counts["bytes"] = os.path.getsize(path)
    return counts


# --- running the binaries ------------------------------------------------------------------

def run_measured(command, work, name, check=True):
    """Runs a command; answers (stdout, wall seconds, peak RSS bytes of the child)."""
    log(" ".join(command))
    with open(os.path.join(work, name + ".out"), "w+") as stdout, \
            open(os.path.join(work, name + ".err"), "w+") as stderr:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        text, errors = stdout.read(), stderr.read()
    if check and process.returncode != 0:
        raise RuntimeError(f"{name} exited with {process.returncode}:\n{text[-3000:]}\n"
                           f"{errors[-3000:]}")
    return text, seconds, usage.ru_maxrss * 1024, process.returncode


def seed_program(build, data):
    """An empty data folder with the shipped program as version 1: loyaltyd seeds it on its
    first start (loyaltyctl never activates a program by itself)."""
    process = subprocess.Popen(
        [os.path.join(build, "loyaltyd"), "--config", os.path.join(SOURCE_DIR, "config",
                                                                   "server.toml"),
         "--program", os.path.join(SOURCE_DIR, "config", "program.toml"), "--data", data,
         "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=SOURCE_DIR)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = process.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"loyaltyd exited early ({process.wait()})")
            if "listening on" in line:
                break
        process.send_signal(signal.SIGTERM)
        if process.wait(timeout=60) != 0:
            raise RuntimeError(f"loyaltyd exited with {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def changed_program(path):
    """The shipped program with other earning: beverages x2.5 instead of x2, food x1.5."""
    with open(os.path.join(SOURCE_DIR, "config", "program.toml")) as f:
        text = f.read()
    changed, replaced = re.subn(r"^beverage = 2\.0\b.*$", "beverage = 2.5\nfood = 1.5", text,
                                count=1, flags=re.M)
    if replaced != 1:
        raise RuntimeError("config/program.toml no longer has `beverage = 2.0`")
    with open(path, "w") as f:
        f.write(changed)


def disk_bytes(path):
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
    return total


class CheckFailed(Exception):
    pass


def checked(figures, name, command, work):
    """Runs a command that must exit 0 with JSON on stdout; keeps its figures."""
    text, seconds, rss, code = run_measured(command, work, name, check=False)
    if code != 0:
        raise CheckFailed(f"{name} exited with {code}: {text[-2000:]}")
    figures[name] = {"seconds": seconds, "peak_rss_bytes": rss, "result": json.loads(text)}


def bench(args, work):
    ctl = os.path.join(args.build, "loyaltyctl")
    data = os.path.join(work, "data")
    history = os.path.join(work, "history.ndjson")
    figures = {"events_asked": args.events, "seed": args.seed}

    started = time.monotonic()
    counts = generate(history, args.events, args.seed)
    figures["generate_seconds"] = time.monotonic() - started
    figures["history"] = counts
    log(f"history: {counts['events']:,} events ({counts['signup']:,} sign-ups, "
        f"{counts['purchase']:,} purchases with {counts['lines']:,} lines, "
        f"{counts['refund']:,} refunds, {counts['redemption']:,} redemptions), "
        f"{counts['bytes'] / 2**20:,.0f} MiB")

    seed_program(args.build, data)
    text, seconds, rss, _ = run_measured([ctl, "import", history, "--data", data, "--json"],
                                         work, "import")
    result = json.loads(text)
    figures["import"] = {"seconds": seconds, "peak_rss_bytes": rss, "rows": result["rows"],
                         "applied": result["applied"], "rejected": result["rejected"],
                         "follow_ups_applied": result["follow_ups_applied"]}
    if result["rejected"] or result["follow_ups_failed"]:
        raise CheckFailed(f"import refused rows: {result['rejections'][:5]}")
    figures["store_bytes_after_import"] = disk_bytes(data)

    # The operator's jobs over the imported year, as of a month after it: the first month's
    # lots are past their 365 days, and tiers reached a year ago are judged.
    as_of = rfc3339(JOBS_AS_OF.timestamp())
    checked(figures, "verify", [ctl, "verify", "--data", data, "--json"], work)
    checked(figures, "expire", [ctl, "expire", "--as-of", as_of, "--data", data, "--json"], work)
    checked(figures, "tiers_evaluate",
            [ctl, "tiers", "evaluate", "--as-of", as_of, "--data", data, "--json"], work)

    program = os.path.join(work, "changed.toml")
    changed_program(program)
    start = HISTORY_START
    end = HISTORY_START + datetime.timedelta(days=HISTORY_DAYS + 1)
    recalc = [ctl, "recalc", "--program", program, "--from", rfc3339(start.timestamp()),
              "--to", rfc3339(end.timestamp()), "--data", data, "--json"]
    for name in ("recalc_dry_run", "recalc_apply", "recalc_apply_again"):
        mode = "--dry-run" if name == "recalc_dry_run" else "--apply"
        text, seconds, rss, _ = run_measured(
            recalc + [mode, "--report", os.path.join(work, name)], work, name)
        report = json.loads(text)
        figures[name] = {"seconds": seconds, "peak_rss_bytes": rss,
                         "events_examined": report["events_examined"],
                         "events_changed": report["events_changed"],
                         "members_affected": report["members_affected"],
                         "total_delta": report["total_delta"],
                         "adjustments_applied": report.get("adjustments_applied", 0),
                         "adjustments_replayed": report.get("adjustments_replayed", 0),
                         "adjustments_failed": report.get("adjustments_failed", 0)}
    if figures["recalc_dry_run"]["events_examined"] != counts["purchase"]:
        raise CheckFailed(f"the recalculation examined {figures['recalc_dry_run']} purchases "
                          f"of {counts['purchase']}")
    if figures["recalc_apply"]["adjustments_applied"] != \
            figures["recalc_dry_run"]["events_changed"]:
        raise CheckFailed("the apply wrote another number of adjustments than the dry run "
                          f"reported: {figures['recalc_apply']}")
    again = figures["recalc_apply_again"]
    if again["adjustments_applied"] or again["events_changed"]:
        raise CheckFailed(f"a second apply changed something: {again}")

    checked(figures, "verify_after_recalc", [ctl, "verify", "--data", data, "--json"], work)
    figures["store_bytes"] = disk_bytes(data)
    return figures


# --- the table -----------------------------------------------------------------------------

def table_rows(f):
    """(figure, value, events, seconds) rows."""
    rows = []
    h = f["history"]

    def per_second(count, seconds):
        return f"{count / seconds:,.0f}/s" if seconds > 0 else "—"

    imp = f["import"]
    rows.append(("import NDJSON, events/s (loyaltyctl import, wall clock)",
                 per_second(imp["rows"], imp["seconds"]), f"{imp['rows']:,} events",
                 f"{imp['seconds']:.1f}"))
    rows.append(("import, purchase lines/s", per_second(h["lines"], imp["seconds"]),
                 f"{h['lines']:,} lines", f"{imp['seconds']:.1f}"))
    for name, label in (("recalc_dry_run", "recalc --dry-run over the year, purchases re-run/s"),
                        ("recalc_apply", "recalc --apply, purchases re-run/s"),
                        ("recalc_apply_again", "recalc --apply again (0 adjustments), "
                                               "purchases re-run/s")):
        r = f[name]
        rows.append((label, per_second(r["events_examined"], r["seconds"]),
                     f"{r['events_examined']:,} purchases", f"{r['seconds']:.1f}"))
    apply = f["recalc_apply"]
    rows.append(("recalc --apply, adjust entries written (events changed by the new rules)",
                 f"{apply['adjustments_applied']:,} "
                 f"({per_second(apply['adjustments_applied'], apply['seconds'])} of the apply)",
                 f"{apply['events_changed']:,} purchases changed", f"{apply['seconds']:.1f}"))
    rows.append(("recalc --apply again, adjust entries written (must be 0)",
                 f"{f['recalc_apply_again']['adjustments_applied']:,}", "", ""))
    members = h["signup"]
    expired = f["expire"]["result"].get("points_expired", 0)
    lowered = f["tiers_evaluate"]["result"].get("tier_changes", 0)
    for name, label in (("verify", "verify (every member's books), members/s"),
                        ("expire", f"expire --as-of, members/s ({expired:,} points expired)"),
                        ("tiers_evaluate", f"tiers evaluate --as-of, members/s ({lowered:,} "
                                           "members lowered)"),
                        ("verify_after_recalc", "verify after the recalculation, members/s")):
        r = f[name]
        rows.append((label, per_second(members, r["seconds"]), f"{members:,} members",
                     f"{r['seconds']:.1f}"))
    peak = max(f[name]["peak_rss_bytes"] for name in (
        "import", "recalc_dry_run", "recalc_apply", "recalc_apply_again", "verify", "expire",
        "tiers_evaluate"))
    for name, label in (("import", "peak RSS, import"), ("recalc_dry_run",
                                                         "peak RSS, recalc --dry-run"),
                        ("recalc_apply", "peak RSS, recalc --apply")):
        rows.append((label, f"{f[name]['peak_rss_bytes'] / 2**20:,.0f} MiB", "", ""))
    rows.append(("peak RSS, largest of all the commands", f"{peak / 2**20:,.0f} MiB", "", ""))
    rows.append(("store on disk after import / after everything",
                 f"{f['store_bytes_after_import'] / 2**20:,.0f} MiB / "
                 f"{f['store_bytes'] / 2**20:,.0f} MiB", f"{h['events']:,} events", ""))
    return rows


def markdown(rows):
    lines = ["| figure | value | events | seconds |", "| --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary(f):
    h = f["history"]
    return (f"History: {h['events']:,} events ({h['signup']:,} sign-ups, {h['purchase']:,} "
            f"purchases with {h['lines']:,} lines, {h['refund']:,} refunds, "
            f"{h['redemption']:,} redemptions; {h['bytes'] / 2**20:,.0f} MiB of NDJSON, seed "
            f"{f['seed']}), recalculated under beverages x2.5 and food x1.5: "
            f"{f['recalc_dry_run']['events_changed']:,} purchases of "
            f"{f['recalc_dry_run']['members_affected']:,} members change, total "
            f"{f['recalc_dry_run']['total_delta']:+,} points.")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(SOURCE_DIR, "build"),
                        help="folder with loyaltyd and loyaltyctl (default build/)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events")
    parser.add_argument("--events", type=int, help=f"events in the history "
                        f"(default {FULL_EVENTS:,})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", help="also write the table as markdown here")
    parser.add_argument("--json", help="also write the raw figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--work", help="work folder (default: a new temporary one)")
    args = parser.parse_args()
    if args.events is None:
        args.events = QUICK_EVENTS if args.quick else FULL_EVENTS
    if args.events < 1000:
        parser.error("--events must be at least 1,000")
    args.build = os.path.abspath(args.build)
    work = args.work or tempfile.mkdtemp(prefix="loyalty-ops-bench-")
    os.makedirs(work, exist_ok=True)
    try:
        figures = bench(args, work)
    except CheckFailed as failure:
        log(f"FAILED: {failure} (outputs in {work})")
        args.keep = True
        return 1
    finally:
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table = markdown(table_rows(figures))
    print(summary(figures))
    print()
    print(table)
    if args.out:
        with open(args.out, "w") as out:
            out.write(summary(figures) + "\n\n" + table + "\n")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
