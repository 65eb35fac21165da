"""The soak test's verdict: does a sampled figure keep growing, or has it levelled off?

A figure "trends upward without bound" when, after its warm-up, BOTH
  1. it grew: the median of the last third of the samples exceeds the median of the first
     third by more than the tolerance, and
  2. it is still growing: the least-squares slope over the second half of the samples,
     projected over the whole judged window, also exceeds the tolerance.
The tolerance is max(absolute, relative × first third's median). Medians make one outlier
harmless; asking for both makes a saw-tooth (RocksDB's compaction debt builds up and is paid
off) and a step that then stays flat (a cache that filled) pass, while a leak — a steady climb
— fails. Samples before warm-up are not judged: caches and memtables fill there.
"""
from dataclasses import dataclass, asdict
import statistics

MIN_SAMPLES = 6  # fewer than this after warm-up: judge the last MIN_SAMPLES anyway


@dataclass(frozen=True)
class Rule:
    warmup_fraction: float  # leading share of the samples not judged
    relative: float  # tolerated growth as a fraction of the baseline
    absolute: float  # tolerated growth in the figure's unit, at least
    unit: str


# The figures the soak samples, and why each tolerance is what it is.
RULES = {
    # Resident memory less RocksDB's memtables: the memtables are write buffers bounded by
    # RocksDB's options and emptied by each flush, but at soak rates they fill for many minutes
    # and alone would look like a leak (raw RSS and memtables are sampled and shown too).
    # Allocator arenas, the block cache and the member cache fill during the first quarter;
    # after that 10% (at least 16 MiB) of growth that is still rising at the end is a leak.
    "heap_mib": Rule(warmup_fraction=0.25, relative=0.10, absolute=16.0, unit="MiB"),
    # Open descriptors: sockets come and go and RocksDB opens a new SST per flush before
    # compaction closes old ones; more than 32 new ones still rising is a descriptor leak.
    "fds": Rule(warmup_fraction=0.0, relative=0.0, absolute=32.0, unit="fds"),
    # p99 latency of each window: noisy on a shared machine, so only a doubling (and at least
    # 20 ms more) that is still climbing counts, e.g. a queue or compaction debt piling up.
    "p99_ms": Rule(warmup_fraction=0.25, relative=1.0, absolute=20.0, unit="ms"),
    # Pending compaction saw-tooths between flushes and compactions; growth of its median by
    # more than 64 MiB (or doubling) that keeps climbing means compaction cannot keep up.
    "pending_compaction_mib": Rule(warmup_fraction=0.0, relative=1.0, absolute=64.0, unit="MiB"),
}


def slope(values):
    """Least-squares slope of values against their index (units per sample)."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    denominator = sum((x - mean_x) ** 2 for x in range(n))
    return numerator / denominator


@dataclass
class Verdict:
    ok: bool
    reason: str
    judged_samples: int
    baseline: float  # median of the first third
    final: float  # median of the last third
    growth: float  # final − baseline
    slope_per_sample: float  # over the second half
    projected: float  # slope × judged samples
    tolerance: float

    def as_dict(self):
        return asdict(self)


def judge(values, rule):
    """The verdict on one figure's samples, in sampling order."""
    values = [float(v) for v in values]
    start = int(len(values) * rule.warmup_fraction)
    judged = values[start:]
    if len(judged) < MIN_SAMPLES:
        judged = values[-MIN_SAMPLES:]
    if len(judged) < 3:
        return Verdict(True, "too few samples to judge", len(judged), 0, 0, 0, 0, 0, 0)
    third = max(1, len(judged) // 3)
    baseline = statistics.median(judged[:third])
    final = statistics.median(judged[-third:])
    growth = final - baseline
    late_slope = slope(judged[len(judged) // 2:])
    projected = late_slope * len(judged)
    tolerance = max(rule.absolute, rule.relative * abs(baseline))
    grew = growth > tolerance
    rising = projected > tolerance
    if grew and rising:
        reason = (f"rising: +{growth:.1f} {rule.unit} (tolerance {tolerance:.1f}) and still "
                  f"climbing {late_slope:.2f} {rule.unit}/sample")
    elif grew:
        reason = f"grew +{growth:.1f} {rule.unit}, then levelled off"
    else:
        reason = f"flat: {growth:+.1f} {rule.unit} (tolerance {tolerance:.1f})"
    return Verdict(not (grew and rising), reason, len(judged), baseline, final, growth,
                   late_slope, projected, tolerance)
