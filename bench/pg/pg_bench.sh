#!/usr/bin/env bash
# The PostgreSQL baseline (issue 6): what a retailer would otherwise build. Installs
# PostgreSQL from Debian if it is missing, starts a THROW-AWAY cluster in a temporary folder
# (initdb + pg_ctl, unix socket in that folder, no TCP, a free port number, fsync = on,
# synchronous_commit = on: every commit waits for its WAL flush, as our fsync durability),
# creates the members / ledger / idempotency tables with N members, runs pgbench with the earn
# transaction of earn.sql at 64 connections, then stops and removes the cluster.
#   bench/pg/pg_bench.sh [--smoke] [--members N] [--seconds S] [--clients C] [--threads J]
#                        [--json FILE]
# Prints pgbench's report and a last line "pg_tps <tps>". --smoke: 1,000 members, 2 s,
# 8 clients (the bench-smoke test). As root, the cluster runs as the `postgres` user
# (PostgreSQL refuses to run as root); otherwise as the current user.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
members=1000000
seconds=30
clients=64
threads=2
json=""
while (($#)); do
  case "$1" in
    --smoke) members=1000; seconds=2; clients=8 ;;
    --members) members="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --json) json="$2"; shift ;;
    *) echo "pg_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [[ -z "$(pg_bin)" || ! -x "$(pg_bin)/initdb" || ! -x "$(pg_bin)/pgbench" ]]; then
  echo "pg_bench.sh: installing postgresql (Debian)" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null
fi
bin="$(pg_bin)"

cluster="$(mktemp -d /tmp/loyalty-pg-XXXXXX)"
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$cluster"
  as_owner=(runuser -u postgres --)
fi
chmod 700 "$cluster"

# A free port number: the socket file is named after it, and the cluster is alone in its
# folder, but a port PostgreSQL would also like on TCP is avoided anyway.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

stop_cluster() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap stop_cluster EXIT

"${as_owner[@]}" "$bin/initdb" -D "$cluster/data" -U bench --auth=trust -E UTF8 \
  --no-instructions >"$cluster/initdb.log" 2>&1 || { cat "$cluster/initdb.log" >&2; exit 1; }
# shared_buffers as our RocksDB block cache (256 MiB); max_wal_size keeps checkpoints out of
# a short run; everything durable as shipped (fsync, synchronous_commit, full_page_writes).
cat >>"$cluster/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$cluster'
port = $port
max_connections = $((clients + 10))
shared_buffers = 256MB
max_wal_size = 4GB
fsync = on
synchronous_commit = on
full_page_writes = on
CONF
"${as_owner[@]}" "$bin/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 60 start \
  >/dev/null || { cat "$cluster/server.log" >&2; exit 1; }
echo "pg_bench.sh: throw-away PostgreSQL $("$bin/postgres" --version | awk '{print $3}') in" \
  "$cluster (fsync=on, synchronous_commit=on), $members members"

psql=("${as_owner[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$cluster" -p "$port" -U bench)
"${psql[@]}" -c "CREATE DATABASE loyalty" postgres
"${psql[@]}" -v members="$members" -f "$here/schema.sql" loyalty

# The script is read by the cluster's user: copy it into the cluster folder.
cp "$here/earn.sql" "$cluster/earn.sql"
[[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$cluster/earn.sql"
output=$("${as_owner[@]}" "$bin/pgbench" -h "$cluster" -p "$port" -U bench -n -M prepared \
  -c "$clients" -j "$threads" -T "$seconds" -D members="$members" -f "$cluster/earn.sql" \
  loyalty 2>&1) || { echo "$output" >&2; exit 1; }
echo "$output"

tps=$(echo "$output" | awk '/^tps = / {print $3; exit}')
latency=$(echo "$output" | awk '/^latency average = / {print $4; exit}')
failed=$(echo "$output" | awk '/^number of failed transactions: / {print $5; exit}')
if [[ -z "$tps" ]]; then echo "pg_bench.sh: no tps in pgbench's output" >&2; exit 1; fi
rows=$("${psql[@]}" -t -A -c "SELECT count(*) FROM idempotency" loyalty)
if [[ "$rows" -eq 0 ]]; then echo "pg_bench.sh: no transaction committed" >&2; exit 1; fi
if [[ -n "$json" ]]; then
  printf '{"tps": %s, "latency_avg_ms": %s, "failed": %s, "committed": %s, "members": %s, "clients": %s, "seconds": %s}\n' \
    "$tps" "${latency:-0}" "${failed:-0}" "$rows" "$members" "$clients" "$seconds" >"$json"
fi
echo "pg_tps $tps"
