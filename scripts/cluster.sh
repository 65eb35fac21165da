#!/usr/bin/env bash
# A loopback cluster (../shared/spec/cluster.md "Running one"): three nats-server with JetStream
# in one NATS cluster, one etcd, and N loyaltyd nodes in cluster mode, each on free ports with
# its own data folder under DIR. Every process's port, data and log stay in DIR, so `start`
# brings one back exactly where it was (the nemesis of tests/cluster/ uses that).
#
#   scripts/cluster.sh up [--nodes 3] [--dir DIR] [--durability fsync|wal] [--partitions 32]
#                         [--nats-only] [--no-rate-limits]   (the last: for benchmarks)
#                         [--extra-config FILE]   (TOML appended to every node's server.toml)
#   scripts/cluster.sh start --dir DIR NAME      # NAME: n1.., nats-1..3, etcd-1
#   scripts/cluster.sh stop --dir DIR NAME       # SIGTERM, waits for it to exit
#   scripts/cluster.sh down --dir DIR
#
# Each started process prints one line: PROCESS NAME URL pid PID. LOYALTYD names the binary
# (default build/loyaltyd); `up` does not build it.
set -Eeuo pipefail  # -E: the ERR trap of `up` holds inside functions too
root=$(cd "$(dirname "$0")/.." && pwd)
loyaltyd=${LOYALTYD:-$root/build/loyaltyd}

usage() { sed -n '5,12p' "$0" >&2; exit 2; }

# One free loopback port per NAME, "NAME PORT" a line: every socket is held open until all are
# chosen, so no two names get the same port.
free_ports() {
  python3 - "$@" <<'PY'
import socket, sys
held = []
for name in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    print(name, s.getsockname()[1])
PY
}

# The value of KEY in DIR/ports (one "KEY PORT" a line).
port_of() { awk -v k="$2" '$1==k {print $2}' "$1/ports"; }

wait_for() {  # wait_for DIR NAME SECONDS COMMAND...: until COMMAND succeeds, NAME still alive
  local dir=$1 what=$2 seconds=$3; shift 3
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if ! started_alive "$dir/$what.pid"; then
      echo "cluster.sh: $what exited; the end of $dir/$what.log:" >&2
      tail -n 5 "$dir/$what.log" >&2 || true
      return 1
    fi
    if (( $(date +%s) >= deadline )); then echo "cluster.sh: $what did not come up" >&2; return 1; fi
    sleep 0.1
  done
}

js_ready() {  # js_ready DIR: some server's /jsz names a meta leader with two current peers
  local j
  for j in 1 2 3; do
    curl -sf "http://127.0.0.1:$(port_of "$1" "nats-$j-monitor")/jsz" | python3 -c '
import json, sys
meta = json.load(sys.stdin).get("meta_cluster", {})
peers = [p for p in meta.get("replicas", []) if p.get("current")]
sys.exit(0 if meta.get("leader") and len(peers) >= 2 else 1)' && return 0
  done
  return 1
}

# The process just started from a pid file still runs: before its exec (a busy machine may
# leave the forked shell a while), during it or after, but not exited. An exited one not yet
# reaped still answers kill -0: its state in /proc is Z. (Its command line is no test: it reads
# empty for a moment while the exec replaces it, which once failed a start that was fine.)
started_alive() {
  local pid state; pid=$(cat "$1" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [[ -n "$state" && "$state" != Z ]]
}

# The process of a pid file is alive, and is still one of ours (not a reused pid).
pid_alive() {
  [[ -f "$1" ]] || return 1
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && grep -qaE 'nats-server|etcd|loyaltyd' "/proc/$pid/cmdline" 2>/dev/null
}

start_nats() {  # start_nats DIR I
  local dir=$1 i=$2 name="nats-$2"
  local port cport mport routes=()
  port=$(port_of "$dir" "$name")
  cport=$(port_of "$dir" "$name-cluster")
  mport=$(port_of "$dir" "$name-monitor")
  for j in 1 2 3; do
    [[ $j == "$i" ]] || routes+=("nats://127.0.0.1:$(port_of "$dir" "nats-$j-cluster")")
  done
  mkdir -p "$dir/$name"
  # JetStream's files go under -sd; the cluster's name and each server's name must be fixed
  # for JetStream's RAFT groups to find their peers again after a restart.
  setsid nats-server --jetstream --store_dir "$dir/$name" --server_name "$name" \
    --addr 127.0.0.1 --port "$port" --http_port "$mport" --cluster_name loyalty-nats \
    --cluster "nats://127.0.0.1:$cport" --routes "$(IFS=,; echo "${routes[*]}")" \
    >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
  wait_for "$dir" "$name" 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  echo "nats-server $name nats://127.0.0.1:$port pid $(cat "$dir/$name.pid")"
}

start_etcd() {  # start_etcd DIR
  local dir=$1 name=etcd-1
  local port pport
  port=$(port_of "$dir" "$name")
  pport=$(port_of "$dir" "$name-peer")
  setsid etcd --name "$name" --data-dir "$dir/$name" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$name=http://127.0.0.1:$pport" \
    >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
  wait_for "$dir" "$name" 30 curl -sf "http://127.0.0.1:$port/health"
  echo "etcd $name http://127.0.0.1:$port pid $(cat "$dir/$name.pid")"
}

write_node_config() {  # write_node_config DIR NAME
  local dir=$1 name=$2
  local port
  port=$(port_of "$dir" "$name")
  local nats_urls=() etcd_url
  for j in 1 2 3; do nats_urls+=("\"nats://127.0.0.1:$(port_of "$dir" "nats-$j")\""); done
  etcd_url="http://127.0.0.1:$(port_of "$dir" etcd-1)"
  # The shipped config's keys and limits, with this node's own listen and data and [cluster].
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
      -e "s|^data_dir = .*|data_dir = \"$dir/$name/data\"|" \
      -e "s|^program = .*|program = \"$root/config/program.toml\"|" \
      -e "s|^durability = .*|durability = \"$(cat "$dir/durability")\"|" \
      "$root/config/server.toml" >"$dir/$name.toml"
  # A benchmark's load generator is one client at thousands of requests a second.
  if [[ "$(cat "$dir/no-rate-limits" 2>/dev/null)" == 1 ]]; then
    sed -i -E 's/^(per_key_rps|per_key_burst|per_member_token_rps|per_member_token_burst) = [0-9]+/\1 = 0/' \
      "$dir/$name.toml"
  fi
  cat >>"$dir/$name.toml" <<EOF

[cluster]
name = "loyalty"
node_id = "$name"
nats_urls = [$(IFS=,; echo "${nats_urls[*]}")]
etcd_endpoints = ["$etcd_url"]
partitions = $(cat "$dir/partitions")
stream_replicas = 3
standbys = 1
lease_seconds = 5
EOF
  if [[ -f "$dir/extra-config.toml" ]]; then cat "$dir/extra-config.toml" >>"$dir/$name.toml"; fi
}

start_node() {  # start_node DIR NAME
  local dir=$1 name=$2
  local port
  port=$(port_of "$dir" "$name")
  mkdir -p "$dir/$name"
  [[ -f "$dir/$name.toml" ]] || write_node_config "$dir" "$name"
  setsid "$loyaltyd" --config "$dir/$name.toml" >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
  wait_for "$dir" "$name" 60 curl -sf "http://127.0.0.1:$port/readyz"
  echo "loyaltyd $name http://127.0.0.1:$port pid $(cat "$dir/$name.pid")"
}

start_one() {  # start_one DIR NAME
  local dir=$1 name=$2
  if pid_alive "$dir/$name.pid"; then echo "cluster.sh: $name is running" >&2; return 1; fi
  case "$name" in
    nats-[123]) start_nats "$dir" "${name#nats-}" ;;
    etcd-1) start_etcd "$dir" ;;
    n*) [[ -n "$(port_of "$dir" "$name")" ]] || { echo "cluster.sh: no node $name" >&2; return 1; }
        start_node "$dir" "$name" ;;
    *) echo "cluster.sh: unknown process $name" >&2; return 1 ;;
  esac
}

stop_one() {  # stop_one DIR NAME: SIGTERM, then SIGKILL after 20 s; waits until it is gone
  local pidfile="$1/$2.pid"
  if pid_alive "$pidfile"; then
    local pid; pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"  # a stale pid could name an unrelated process later
}

cmd=${1:-}; shift || true
nodes=3 dir="" durability=fsync partitions=32 nats_only=0 no_rate_limits=0 name="" extra=""
while (($#)); do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --durability) durability=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --nats-only) nats_only=1; shift ;;
    --no-rate-limits) no_rate_limits=1; shift ;;
    --extra-config) extra=$2; shift 2 ;;
    -*) usage ;;
    *) name=$1; shift ;;
  esac
done

case "$cmd" in
  up)
    [[ -n "$dir" ]] || dir=$(mktemp -d /tmp/loyalty-cluster.XXXXXX)
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    [[ ! -f "$dir/ports" ]] || { echo "cluster.sh: $dir already holds a cluster" >&2; exit 1; }
    echo "$durability" >"$dir/durability"
    echo "$partitions" >"$dir/partitions"
    echo "$no_rate_limits" >"$dir/no-rate-limits"
    if [[ -n "$extra" ]]; then cp "$extra" "$dir/extra-config.toml"; fi
    names=(etcd-1 etcd-1-peer)
    for j in 1 2 3; do names+=("nats-$j" "nats-$j-cluster" "nats-$j-monitor"); done
    if ((!nats_only)); then for n in $(seq "$nodes"); do names+=("n$n"); done; fi
    free_ports "${names[@]}" >"$dir/ports"
    echo "cluster.sh: the cluster's folder is $dir" >&2
    # A process that does not come up stops the ones started before it.
    trap 'echo "cluster.sh: up failed; stopping what started" >&2; "$0" down --dir "$dir"' ERR
    start_etcd "$dir"
    # The three start together: each waits for its routes, JetStream for a quorum.
    for j in 1 2 3; do start_nats "$dir" "$j"; done
    # A stream of three replicas can be placed once JetStream's meta group has a leader that
    # sees both other servers as current.
    wait_for "$dir" nats-1 30 js_ready "$dir"
    if ((!nats_only)); then for n in $(seq "$nodes"); do start_node "$dir" "n$n"; done; fi
    ;;
  start) [[ -n "$dir" && -n "$name" ]] || usage; start_one "$dir" "$name" ;;
  stop) [[ -n "$dir" && -n "$name" ]] || usage; stop_one "$dir" "$name" ;;
  down)
    [[ -n "$dir" && -f "$dir/ports" ]] || usage
    for pidfile in "$dir"/*.pid; do [[ -e "$pidfile" ]] && stop_one "$dir" "$(basename "$pidfile" .pid)"; done
    ;;
  *) usage ;;
esac
