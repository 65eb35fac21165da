"""The clients in examples/ run against a real server and print what the API answered."""
import json
import os
import subprocess
import unittest

import harness

PYTHON = "/usr/bin/python3"


def sections(output):
    """{'step (status)': answer} from the examples' '== step (status)' + JSON output. The
    mini-program client's closing 'done: …' line ends it."""
    found = {}
    title, body = None, []
    for row in output.splitlines() + ["done:"]:
        if row.startswith("== ") or row.startswith("done:"):
            if title is not None:
                found[title] = json.loads("\n".join(body))
            title, body = row[3:], []
            if row.startswith("done:"):
                break
        else:
            body.append(row)
    return found


class PosClientTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server().start()
        self.addCleanup(self.server.cleanup)

    def run_client(self, *args):
        return subprocess.run(
            [PYTHON, os.path.join(harness.SOURCE_DIR, "examples", "pos_client.py"),
             "--url", f"http://127.0.0.1:{self.server.port}", "--key", harness.POS_KEY, *args],
            capture_output=True, text=True, timeout=120)

    def test_quote_hold_purchase_refund(self):
        done = self.run_client()
        self.assertEqual(done.returncode, 0, done.stderr)
        steps = sections(done.stdout)
        self.assertEqual(list(steps), ["sign-up (201)", "purchase (earns points) (200)",
                                       "quote (200)", "hold (201)", "purchase with hold (200)",
                                       "refund (200)", "coupon for the member (201)",
                                       "check coupon (200)", "purchase with coupon (200)"])
        quote = steps["quote (200)"]
        hold = steps["hold (201)"]
        purchase = steps["purchase with hold (200)"]
        refund = steps["refund (200)"]
        self.assertGreater(quote["redeemable_points_max"], 0)
        self.assertEqual(hold["points"], quote["redeemable_points_max"])
        self.assertEqual(hold["state"], "active")
        self.assertEqual(purchase["points_redeemed"], hold["points"])
        self.assertEqual(purchase["balance"]["held"], 0)
        self.assertEqual(refund["original_event_id"], purchase["event_id"])
        self.assertEqual(refund["refunded_minor"], 1800)
        # The server agrees: the hold was captured by the purchase.
        r = self.server.request("GET", f"/v1/holds/{hold['hold_id']}", key=harness.POS_KEY)
        self.assertEqual(r.json["state"], "captured", r)
        self.assertEqual(r.json["captured_by"], purchase["event_id"])
        # And the coupon the till checked was used by the sale that named it.
        code = steps["coupon for the member (201)"]["coupon"]["code"]
        self.assertTrue(steps["check coupon (200)"]["usable"])
        sale = steps["purchase with coupon (200)"]
        r = self.server.request("GET", f"/v1/coupons/{code}", key=harness.POS_KEY)
        self.assertEqual((r.json["state"], r.json["used_by"]), ("used", sale["event_id"]), r)

    def test_runs_again_on_the_same_server_and_member(self):
        first = self.run_client("--member", "pos-again")
        self.assertEqual(first.returncode, 0, first.stderr)
        second = self.run_client("--member", "pos-again")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("sign-up (200)", sections(second.stdout))  # an identical repeat

    def test_reports_a_refused_key(self):
        done = self.run_client("--app-key", "not-a-key")
        self.assertEqual(done.returncode, 1)
        self.assertIn("401 unauthorized", done.stderr)


class MiniProgramClientTest(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server().start()
        self.addCleanup(self.server.cleanup)

    def run_client(self, *args):
        return subprocess.run(
            [PYTHON, os.path.join(harness.SOURCE_DIR, "examples", "miniprogram_client.py"),
             "--url", f"http://127.0.0.1:{self.server.port}", "--key", harness.APP_KEY, *args],
            capture_output=True, text=True, timeout=120)

    def test_follows_a_member_and_catches_up(self):
        done = self.run_client("--member", "mp-1", "--demo-purchases", "2", "--count", "2",
                               "--seconds", "20")
        self.assertEqual(done.returncode, 0, done.stderr + done.stdout)
        steps = sections(done.stdout)
        titles = list(steps)
        self.assertEqual(titles[:2], ["sign-up (201)", "subscribed"], titles)
        pushes = [steps[t] for t in titles if t.startswith("push ")]
        self.assertEqual(len(pushes), 2, done.stdout)
        self.assertEqual([p["seq"] for p in pushes], [1, 2])
        for push in pushes:
            self.assertEqual(push["member_id"], "mp-1")
            self.assertEqual(push["type"], "points.earned")
            self.assertGreater(push["points"], 0)
        self.assertIn("done: last seq 2", done.stdout)

        # A reconnect after seq 1 gets seq 2 again from the stored feed.
        again = self.run_client("--member", "mp-1", "--after-seq", "1", "--count", "1",
                                "--seconds", "10")
        self.assertEqual(again.returncode, 0, again.stderr + again.stdout)
        pushes = [v for k, v in sections(again.stdout).items() if k.startswith("push ")]
        self.assertEqual([p["seq"] for p in pushes], [2], again.stdout)

    def test_the_member_redeems_a_reward_and_the_feed_tells_it(self):
        done = self.run_client("--member", "mp-2", "--demo-purchases", "1", "--demo-amount",
                               "30000", "--redeem", "free-drink", "--count", "2",
                               "--seconds", "20")
        self.assertEqual(done.returncode, 0, done.stderr + done.stdout)
        steps = sections(done.stdout)
        catalog = steps["catalog (200)"]
        drink = next(r for r in catalog["rewards"] if r["reward_id"] == "free-drink")
        self.assertTrue(drink["redeemable"], drink)
        redeemed = steps["redeem (201)"]
        self.assertEqual(redeemed["coupon"]["state"], "active")
        pushes = [v["type"] for k, v in steps.items() if k.startswith("push ")]
        self.assertEqual(pushes, ["points.earned", "reward.redeemed"], done.stdout)
        r = self.server.request("GET", f"/v1/coupons/{redeemed['coupon']['code']}",
                                key=harness.POS_KEY)
        self.assertEqual((r.status, r.json["member_id"]), (200, "mp-2"), r)

    def test_a_bad_token_secret_is_refused(self):
        done = self.run_client("--token-secret", "wrong", "--seconds", "5")
        self.assertEqual(done.returncode, 1, done.stdout)
        self.assertIn("401", done.stderr)


if __name__ == "__main__":
    unittest.main()
