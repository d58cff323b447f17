#!/usr/bin/env bash
# Devices benchmark: enrols and registers DEVICES Meeting devices (default 100,000) through the
# admin and device APIs, then drives heartbeats spread over all of them with wrk (2 threads,
# 64 keep-alive connections), next to the bare POCO reference server under the same wrk
# settings. Reports req/s, latency percentiles, errors, and resident memory per device.
# Usage: bench/run-devices.sh [build-dir] (default build/release). One JSON line per result.
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
DEVICES="${DEVICES:-100000}"
source bench/lib.sh
bench_init devices

# 1. The reference: a bare POCO HTTPServer answering fixed JSON, same wrk settings.
BARE_PORT=$(free_port)
"$BUILD/sb-bare-server" --port "$BARE_PORT" --threads 128 > "$WORK/bare.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$BARE_PORT/"
run_wrk bare-poco "http://127.0.0.1:$BARE_PORT/api/devices/x/online" post.lua \
  WRK_BODY='{"ip_lan": "10.0.0.1", "mac": "00:1A:2B:3C:4D:5E", "note": "Updates Manager Tool"}'
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# 2. Switchboard with the devices plugin on the default store settings (SQLite, write-behind 1s).
PUB_PORT=$(free_port); PAIR_PORT=$(free_port); ADMIN_PORT=$(free_port)
cat > "$WORK/bench.yaml" <<YAML
server: { data_dir: $WORK/var, plugin_dirs: [$PWD/$BUILD/plugins], log: { level: warning } }
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  pairing: { bind: 127.0.0.1, port: $PAIR_PORT }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
plugins:
  devices: { listener: public, offline_after: 600s, token_ttl: 24h }
YAML
"$BUILD/switchboard" --config "$WORK/bench.yaml" > "$WORK/switchboard.log" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
wait_http "http://127.0.0.1:$PUB_PORT/readyz"
RSS_EMPTY=$(rss_kb "$SB_PID")
echo "# enrolling and registering $DEVICES devices through the admin and device APIs" >&2
python3 bench/enrol_devices.py "$ADMIN_PORT" "$PUB_PORT" bench "$DEVICES" "$WORK/keys.txt" 2 \
  || { tail -20 "$WORK/switchboard.log" >&2; exit 1; }
RSS_ENROLLED=$(rss_kb "$SB_PID")
run_wrk devices-heartbeat "http://127.0.0.1:$PUB_PORT" device-heartbeat.lua WRK_KEYS_FILE="$WORK/keys.txt"
RSS_AFTER=$(rss_kb "$SB_PID")
ONLINE=$(curl -s -H 'Authorization: Bearer bench' "http://127.0.0.1:$ADMIN_PORT/metrics" \
  | awk '/^switchboard_devices_online / {print $2}')
echo "{\"bench\":\"devices-rss\",\"devices\":$DEVICES,\"online\":$ONLINE,\"rss_empty_kb\":$RSS_EMPTY,\"rss_enrolled_kb\":$RSS_ENROLLED,\"rss_after_heartbeats_kb\":$RSS_AFTER,\"bytes_per_device\":$(( (RSS_AFTER - RSS_EMPTY) * 1024 / DEVICES ))}"
kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true
