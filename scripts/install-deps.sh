#!/usr/bin/env bash
# Installs the Debian 12 packages the build (and, with --test, the test suite) needs.
# Idempotent and fast when everything is there: apt runs only for what is missing.
set -euo pipefail

build_packages=(cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  librocksdb-dev libflatbuffers-dev flatbuffers-compiler libtoml11-dev libcli11-dev
  libssl-dev libgtest-dev libbenchmark-dev libjemalloc-dev
  libhowardhinnant-date-dev tzdata  # date/tz reads the zones of tzdata (program time_zone)
  libnats-dev)  # cluster mode's JetStream client (cluster/)
test_packages=(curl openssl python3 python3-websockets wrk postgresql)  # postgresql: bench/pg
# The fuzz build (fuzz/, preset "fuzz"): clang, and libFuzzer's runtime from compiler-rt.
test_packages+=(clang libclang-rt-14-dev)
# Cluster tests (tests/cluster/) run real NATS servers and etcd (scripts/cluster.sh).
test_packages+=(nats-server etcd-server)
# The package test (tests/e2e/test_package.py): cpack's dpkg-shlibdeps, systemd-analyze.
test_packages+=(dpkg-dev systemd)
# The console's browser test (tests/e2e/test_console_browser.py): Debian's Chromium, driven by
# Selenium through chromium-driver (always Chromium's own version), and fonts for screenshots.
test_packages+=(chromium chromium-driver python3-selenium fonts-liberation)

wanted=("${build_packages[@]}")
# The console (console/) is bundled by esbuild on Node at build time, and the webhook tests'
# receiver (tests/e2e/webhook_receiver) runs on it. A Node already on the machine (NodeSource's,
# say) is used as it is: Debian's npm package conflicts with NodeSource's nodejs, which carries
# its own npm.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then wanted+=(nodejs npm); fi
if [[ "${1:-}" == "--test" ]]; then wanted+=("${test_packages[@]}"); fi

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then exit 0; fi

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
