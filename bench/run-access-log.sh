#!/usr/bin/env bash
# The HTTP hot path with the access log off and on (text, then JSON lines to a file): the pairing
# plugin's /get_server_details and the host's /healthz under wrk (2 threads, 64 connections).
# Usage: bench/run-access-log.sh [build-dir] (default build/release). One JSON line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
source bench/lib.sh
bench_init access-log

for mode in off text json; do
  PAIR_PORT=$(free_port); PUB_PORT=$(free_port); ADMIN_PORT=$(free_port)
  access=""
  if [ "$mode" != off ]; then
    access="access_log: { file: $WORK/access-$mode.log, format: $mode },"
  fi
  cat > "$WORK/$mode.yaml" <<YAML
server: { data_dir: $WORK/var-$mode, plugin_dirs: [$PWD/$BUILD/plugins], $access
          log: { level: warning } }
store: { url: "sqlite:$WORK/var-$mode/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  pairing: { bind: 127.0.0.1, port: $PAIR_PORT }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
plugins:
  pairing: { listener: pairing, offline_after: 600s }
YAML
  "$BUILD/switchboard" --config "$WORK/$mode.yaml" > "$WORK/switchboard-$mode.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$PAIR_PORT/readyz"
  CODE=$(python3 bench/register.py "$PAIR_PORT" 10 "$WORK/keys-$mode.txt")
  run_wrk "details-access-$mode" "http://127.0.0.1:$PAIR_PORT/get_server_details" post.lua \
    WRK_BODY="{\"pairing_code\":$CODE}"
  run_wrk "healthz-access-$mode" "http://127.0.0.1:$PAIR_PORT/healthz" get.lua
  if [ "$mode" != off ]; then
    echo "# $mode: $(wc -l < "$WORK/access-$mode.log") lines, dropped: $(curl -s \
      -H 'Authorization: Bearer bench' "http://127.0.0.1:$ADMIN_PORT/metrics" |
      awk '/^switchboard_access_log_dropped_total/ {print $2}')" >&2
  fi
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
done
