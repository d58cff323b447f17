#!/usr/bin/env bash
# Benchmark driver: the bare POCO reference server and Switchboard's pairing plugin under wrk
# (2 threads, 64 keep-alive connections), then 5,000 idle WebSockets with sb-wsload.
# Usage: bench/run.sh [build-dir] (default build/release). Prints one JSON line per run.
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
source bench/lib.sh
bench_init pairing

# 1. The reference: a bare POCO HTTPServer answering fixed JSON.
BARE_PORT=$(free_port)
"$BUILD/sb-bare-server" --port "$BARE_PORT" --threads 128 > "$WORK/bare.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$BARE_PORT/"
run_wrk bare-poco "http://127.0.0.1:$BARE_PORT/get_server_details" post.lua WRK_BODY='{"pairing_code":1234}'
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# 2. Switchboard with the pairing plugin on the default settings (SQLite, write-behind 1s).
PAIR_PORT=$(free_port); PUB_PORT=$(free_port); ADMIN_PORT=$(free_port)
cat > "$WORK/bench.yaml" <<YAML
server: { data_dir: $WORK/var, plugin_dirs: [$PWD/$BUILD/plugins], log: { level: warning } }
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  pairing: { bind: 127.0.0.1, port: $PAIR_PORT }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
plugins:
  pairing: { listener: pairing, offline_after: 600s, registration_limit: { per_address: 0, per_network: 0 } }
YAML
"$BUILD/switchboard" --config "$WORK/bench.yaml" > "$WORK/switchboard.log" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
wait_http "http://127.0.0.1:$PAIR_PORT/readyz"
CODE=$(python3 bench/register.py "$PAIR_PORT" 1000 "$WORK/keys.txt")
run_wrk pairing-details "http://127.0.0.1:$PAIR_PORT/get_server_details" post.lua WRK_BODY="{\"pairing_code\":$CODE}"
run_wrk pairing-heartbeat "http://127.0.0.1:$PAIR_PORT/server_status" heartbeat.lua WRK_KEYS_FILE="$WORK/keys.txt"
echo "{\"bench\":\"switchboard-rss\",\"rss_kb\":$(rss_kb "$SB_PID")}"
kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true

# 3. 5,000 idle WebSockets against the test plugin (if the fixtures are built).
if [ -f "$BUILD/tests/fixtures/switchboard-testkit.so" ]; then
  sed -e "s|plugin_dirs: \[|plugin_dirs: [$PWD/$BUILD/tests/fixtures, |" \
      -e "s|  pairing: { listener: pairing, offline_after: 600s, registration_limit: { per_address: 0, per_network: 0 } }|  testkit: { listener: public }|" \
      "$WORK/bench.yaml" > "$WORK/ws.yaml"
  "$BUILD/switchboard" --config "$WORK/ws.yaml" > "$WORK/ws.log" 2>&1 &
  SB_PID=$!
  PIDS+=($SB_PID)
  wait_http "http://127.0.0.1:$PUB_PORT/readyz"
  echo "# websocket-hold: sb-wsload --connections 5000 --hold 10 --echo" >&2
  "$BUILD/sb-wsload" --url "ws://127.0.0.1:$PUB_PORT/testkit/ws" --connections 5000 --hold 10 \
    --echo --server-pid "$SB_PID" | sed 's/^{/{"bench":"websocket-hold",/'
  kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true
fi
