#!/usr/bin/env bash
# Two nodes on one PostgreSQL + one Redis against one node on SQLite, on this machine: aggregate
# pairing heartbeats/s and look-ups/s (wrk -t2 -c64 per node, both nodes at once), and the
# cross-node event latency (a registration on node A until node B's event stream has it).
# Usage: bench/run-cluster.sh [build-dir] (default build/release); DURATION (default 10s).
# Prints one JSON line per run. PostgreSQL (scripts/pg-cluster, fsync off) and Redis run on
# loopback in a temporary directory and stop by themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
source bench/lib.sh
bench_init cluster
PGDIR="$WORK/pg"
chmod 755 "$WORK"  # PostgreSQL runs as the postgres user (scripts/pg-cluster)
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; scripts/pg-cluster kill "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

node_config() { # file store-url bus-url pairing-port public-port admin-port
  cat >"$1" <<YAML
server: { data_dir: $(dirname "$1")/var, plugin_dirs: [$PWD/$BUILD/plugins], log: { level: warning } }
store: { url: "$2" }
bus: { url: "$3" }
listeners:
  public: { bind: 127.0.0.1, port: $5 }
  pairing: { bind: 127.0.0.1, port: $4 }
  admin: { bind: 127.0.0.1, port: $6 }
admin: { token: bench }
plugins:
  pairing: { listener: pairing, offline_after: 600s }
YAML
}

start_node() { # dir store-url bus-url -> sets NODE_PAIRING, NODE_ADMIN, NODE_PID
  mkdir -p "$1"
  NODE_PAIRING=$(free_port); local pub; pub=$(free_port); NODE_ADMIN=$(free_port)
  node_config "$1/switchboard.yaml" "$2" "$3" "$NODE_PAIRING" "$pub" "$NODE_ADMIN"
  "$BUILD/switchboard" --config "$1/switchboard.yaml" >"$1/switchboard.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_http "http://127.0.0.1:$NODE_PAIRING/readyz" || { cat "$1/switchboard.log" >&2; exit 1; }
}

# 1. One node on SQLite (the reference).
start_node "$WORK/single" "sqlite:$WORK/single/var/switchboard.db" local
CODE=$(python3 bench/register.py "$NODE_PAIRING" 1000 "$WORK/single-keys.txt")
run_wrk single-sqlite-details "http://127.0.0.1:$NODE_PAIRING/get_server_details" post.lua WRK_BODY="{\"pairing_code\":$CODE}"
run_wrk single-sqlite-heartbeat "http://127.0.0.1:$NODE_PAIRING/server_status" heartbeat.lua WRK_KEYS_FILE="$WORK/single-keys.txt"
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true

# 2. Two nodes on PostgreSQL + Redis.
PG_URL=$(scripts/pg-cluster start "$PGDIR")
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
start_node "$WORK/a" "$PG_URL" "redis://127.0.0.1:$REDIS_PORT"
A_PAIRING=$NODE_PAIRING
start_node "$WORK/b" "$PG_URL" "redis://127.0.0.1:$REDIS_PORT"
B_PAIRING=$NODE_PAIRING; B_ADMIN=$NODE_ADMIN
CODE=$(python3 bench/register.py "$A_PAIRING" 1000 "$WORK/keys.txt")
for kind in details heartbeat; do
  if [ "$kind" = details ]; then path=get_server_details; script=post.lua; var="WRK_BODY={\"pairing_code\":$CODE}"
  else path=server_status; script=heartbeat.lua; var="WRK_KEYS_FILE=$WORK/keys.txt"; fi
  # Both nodes at once; heartbeats for A's servers go to both nodes.
  run_wrk "cluster-a-$kind" "http://127.0.0.1:$A_PAIRING/$path" "$script" "$var" >"$WORK/a.json" &
  wa=$!
  run_wrk "cluster-b-$kind" "http://127.0.0.1:$B_PAIRING/$path" "$script" "$var" >"$WORK/b.json"
  wait "$wa"
  cat "$WORK/a.json" "$WORK/b.json"
done
echo "# cross-node: 200 registrations on node A, server.online seen on node B's event stream" >&2
python3 bench/crossnode.py "$A_PAIRING" "$B_ADMIN" bench 200 | sed 's/^{/{"bench":"cross-node-event",/'
