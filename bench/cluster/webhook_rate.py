#!/usr/bin/python3
"""Webhook deliveries in cluster mode (issue 18): a 3-node loopback cluster (scripts/cluster.sh,
8 partitions) and one endpoint on the tests' receiver; N sign-ups are posted through every node,
16 at a time, and the figure is the time from the first post until the receiver has every
member.created (each partition's owner sends its messages one at a time, with one etcd
compare-and-set per settled message).
  bench/cluster/webhook_rate.py [N]   (default 2000; uses build/loyaltyd, as the tests do)"""
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "cluster"))
import harness  # noqa: E402
from test_webhooks import Receiver  # noqa: E402
import test_cluster as tc  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
d = tempfile.mkdtemp(prefix="wh-rate-")
extra = os.path.join(d, "x.toml")
open(extra, "w").write("\n[webhooks]\nallow_private_addresses = true\n")
up = subprocess.run([tc.SCRIPT, "up", "--dir", d, "--nodes", "3", "--partitions", "8",
                     "--extra-config", extra], capture_output=True, text=True, timeout=180,
                    env={**os.environ, "LOYALTYD": harness.LOYALTYD})
assert up.returncode == 0, up.stderr
nodes = []
for line in up.stdout.splitlines():
    kind, name, url, _, _ = line.split()
    if kind == "loyaltyd":
        nodes.append(tc.Node(name, url))
try:
    time.sleep(3)
    r = Receiver().start()
    ep = nodes[0].request("POST", "/v1/webhooks", {"url": r.url()})
    assert ep.status == 201, ep
    def signup(i):
        n = nodes[i % 3]
        while True:
            a = n.request("POST", "/v1/members", {"member_id": f"r-{i}"}, key=harness.APP_KEY)
            if a.status != 503:
                return a.status
            time.sleep(0.1)
    t0 = time.time()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(signup, range(N)))
    assert set(statuses) <= {200, 201}, set(statuses)
    posted = time.time() - t0
    while True:
        got = len(r.received())
        if got >= N:
            break
        time.sleep(0.2)
    total = time.time() - t0
    print(f"{N} sign-ups posted in {posted:.1f} s; all {N} messages delivered {total:.1f} s "
          f"after the first post: {N / total:.0f} messages/s over 8 partitions (3 nodes)")
    r.stop()
finally:
    subprocess.run([tc.SCRIPT, "down", "--dir", d], timeout=120)
