"""The soak's verdict must fail a leak and pass what only looks like one: a saw-tooth, a
warm-up that levels off, a step to a new plateau, noise."""
import math
import random
import unittest

from trend import RULES, Rule, judge, slope

PLAIN = Rule(warmup_fraction=0.0, relative=0.10, absolute=1.0, unit="u")


class Trend(unittest.TestCase):
    def test_slope_of_a_line_is_its_gradient(self):
        self.assertAlmostEqual(slope([3 + 2 * x for x in range(10)]), 2.0)
        self.assertAlmostEqual(slope([5] * 8), 0.0)

    def test_a_steady_climb_fails(self):
        rss = [200 + 4 * i for i in range(60)]  # 4 MiB per sample: 240 MiB in a soak
        verdict = judge(rss, RULES["heap_mib"])
        self.assertFalse(verdict.ok, verdict)
        self.assertIn("rising", verdict.reason)

    def test_a_noisy_climb_fails(self):
        noise = random.Random(7)
        fds = [40 + i + noise.uniform(-3, 3) for i in range(60)]
        self.assertFalse(judge(fds, RULES["fds"]).ok)

    def test_a_leak_that_starts_late_fails(self):
        values = [100.0] * 30 + [100.0 + 3 * i for i in range(30)]
        self.assertFalse(judge(values, PLAIN).ok)

    def test_a_short_ci_run_of_a_leak_fails(self):
        # The CI variant: 15 samples of 3 s. A leak of 5 MiB per sample is caught.
        rss = [150 + 5 * i for i in range(15)]
        self.assertFalse(judge(rss, RULES["heap_mib"]).ok)

    def test_a_saw_tooth_passes(self):
        # Pending compaction: builds up for 7 samples, is paid off, again.
        pending = [(i % 8) * 40.0 for i in range(60)]
        self.assertTrue(judge(pending, RULES["pending_compaction_mib"]).ok)
        # Also when the run ends at the top of a tooth.
        self.assertTrue(judge(pending[:56], RULES["pending_compaction_mib"]).ok)

    def test_warm_up_then_flat_passes(self):
        rss = [100 + 200 * (1 - math.exp(-i / 3)) for i in range(60)]
        self.assertTrue(judge(rss, RULES["heap_mib"]).ok)

    def test_a_step_to_a_new_plateau_passes(self):
        values = [100.0] * 25 + [180.0] * 35
        verdict = judge(values, PLAIN)
        self.assertTrue(verdict.ok, verdict)
        self.assertIn("levelled off", verdict.reason)

    def test_noise_around_a_level_passes(self):
        noise = random.Random(11)
        p99 = [8 + noise.uniform(-4, 12) for _ in range(60)]
        self.assertTrue(judge(p99, RULES["p99_ms"]).ok)

    def test_falling_passes(self):
        self.assertTrue(judge([300 - i for i in range(60)], PLAIN).ok)

    def test_too_few_samples_are_not_judged_a_leak(self):
        self.assertTrue(judge([1, 50], PLAIN).ok)


if __name__ == "__main__":
    unittest.main()
