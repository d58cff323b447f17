#!/usr/bin/env bash
# Cross-node signaling presence (issue 13): two nodes with auth and signaling on one PostgreSQL
# and one Redis on this machine. PEERS agents of one organization register on node B; per round
# a new agent registers on node A (sb-sigload fanout --new-port) and the time from its register
# to the last peer_online on B is taken, then it closes and the time to the last peer_offline
# likewise. A same-node run (everything on A) is the reference.
# Usage: bench/run-signaling-cluster.sh [build-dir] (default build/release). Environment: PEERS
# (200), ROUNDS (50), WARMUP (3). Prints one JSON line per run; everything listens on 127.0.0.1
# and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
BUILD="$(cd "$BUILD" && pwd)"
PEERS="${PEERS:-200}"
ROUNDS="${ROUNDS:-50}"
WARMUP="${WARMUP:-3}"
source bench/lib.sh
bench_init signaling-cluster
PGDIR="$WORK/pg"
chmod 755 "$WORK"  # PostgreSQL runs as the postgres user (scripts/pg-cluster)
trap 'for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; scripts/pg-cluster kill "$PGDIR" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

start_node() { # dir store-url bus-url -> sets NODE_PUB, NODE_PID
  mkdir -p "$1"
  NODE_PUB=$(free_port); local admin; admin=$(free_port)
  cat >"$1/switchboard.yaml" <<YAML
server: { data_dir: $1/var, plugin_dirs: [$BUILD/plugins], log: { level: warning } }
store: { url: "$2" }
bus: { url: "$3" }
listeners:
  public: { bind: 127.0.0.1, port: $NODE_PUB, websocket: { idle_timeout: 600s } }
  admin: { bind: 127.0.0.1, port: $admin }
admin: { token: bench }
plugins:
  auth:
    listener: public
    jwt: { secret: "bench-secret-bench-secret-bench-secret-0123" }
    password_hash: { memory: 8MiB, passes: 1 }
    rate_limit: { per_address: 0, per_account: 0 }
  signaling: { listener: public, max_organizations_per_user: 100000 }
YAML
  "$BUILD/switchboard" --config "$1/switchboard.yaml" >"$1/switchboard.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_http "http://127.0.0.1:$NODE_PUB/readyz" || { cat "$1/switchboard.log" >&2; exit 1; }
}

PG_URL=$(scripts/pg-cluster start "$PGDIR")
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --loglevel warning >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
start_node "$WORK/a" "$PG_URL" "redis://127.0.0.1:$REDIS_PORT"
A_PUB=$NODE_PUB; A_PID=$NODE_PID
start_node "$WORK/b" "$PG_URL" "redis://127.0.0.1:$REDIS_PORT"
B_PUB=$NODE_PUB

echo "# setup: one organization of $((PEERS + 1)) members over REST on node A" >&2
python3 bench/signaling_setup.py "$A_PUB" "$WORK" 1 2 "$PEERS" 1 0 1 >/dev/null 2>"$WORK/setup.err" \
  || { tail -5 "$WORK/setup.err" >&2; exit 1; }

run() { # name args...
  local name="$1"; shift
  echo "# $name: sb-sigload fanout $*" >&2
  "$BUILD/sb-sigload" fanout --agents "$WORK/agents-fanout.txt" --peers "$PEERS" \
    --rounds "$ROUNDS" --warmup "$WARMUP" --name "$name" "$@" 2>"$WORK/$name.err" \
    | grep '^{' || { grep -v '^#' "$WORK/$name.err" | head -5 >&2; }
}
run signaling-fanout-same-node --port "$A_PUB" --server-pid "$A_PID"
# The same agents register again: let the first run's peer.offline events reach node B first
# (else B's peers are told of those old connections going, which the client counts as errors).
sleep 2
run signaling-fanout-cross-node --port "$B_PUB" --new-port "$A_PUB"
