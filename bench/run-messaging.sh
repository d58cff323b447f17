#!/usr/bin/env bash
# Chat-protocol benchmarks (plugins/messaging) with bench/chatload.cpp (sb-chatload), in this
# order: server RSS per logged-in connection and IDLE idle TLS connections held (first, so the
# load runs do not skew the RSS figures); then 1,000 logged-in TLS connections (500
# sender/receiver pairs) at saturation (each sender keeps DEPTH messages in flight) and
# open-loop at RATE messages/s (p99 delivery latency from the scheduled send time); 0 lost =
# every ACKed message delivered and stored. Self-contained: a fresh server on a temporary data directory
# on loopback, raised open-file limit, a summary at the end.
# Usage: bench/run-messaging.sh [build-dir] (default build/release)
# Environment: PAIRS (500), DEPTH (32), RATE (25000), DURATION_S (10), IDLE (10000),
# CLIENT_THREADS (2), EVENT_THREADS (2), HOLD (10 s of idle hold).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
PAIRS="${PAIRS:-500}"
DEPTH="${DEPTH:-32}"
RATE="${RATE:-25000}"
SECONDS_RUN="${DURATION_S:-10}"
IDLE="${IDLE:-10000}"
CLIENT_THREADS="${CLIENT_THREADS:-2}"
EVENT_THREADS="${EVENT_THREADS:-2}"
HOLD="${HOLD:-10}"
source bench/lib.sh
bench_init messaging
LOAD="$BUILD/sb-chatload"
[ -x "$LOAD" ] || { echo "missing $LOAD (build the release preset)" >&2; exit 1; }

PUB_PORT=$(free_port); ADMIN_PORT=$(free_port); CHAT_PORT=$(free_port)
cat > "$WORK/bench.yaml" <<YAML
server:
  data_dir: $WORK/var
  plugin_dirs: [$PWD/$BUILD/plugins]
  event_threads: $EVENT_THREADS
  log: { level: warning }
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
  chat: { bind: 127.0.0.1, port: $CHAT_PORT, protocol: stream, max_connections: 50000,
          max_connections_per_address: 50000,
          tls: { cert: $WORK/var/tls/cert.pem, key: $WORK/var/tls/key.pem } }
admin: { token: bench }
plugins:
  auth:
    listener: public
    jwt: { secret: "bench-secret-0123456789abcdef0123456789abcdef" }
    # The chat is measured, not Argon2id: cheap hashes so 1,000 accounts register in seconds.
    password_hash: { memory: 8MiB, passes: 1 }
    rate_limit: { per_address: 0, per_account: 0 }
  messaging:
    listener: chat
    rate_limit: { messages: 0 }
YAML
"$BUILD/switchboard" --config "$WORK/bench.yaml" > "$WORK/switchboard.log" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
wait_http "http://127.0.0.1:$PUB_PORT/readyz" || { cat "$WORK/switchboard.log" >&2; exit 1; }
metric() {
  curl -s -H "Authorization: Bearer bench" "http://127.0.0.1:$ADMIN_PORT/metrics" \
    | awk -v m="$1" '$1 == m {print $2}'
}
RSS_EMPTY=$(rss_kb $SB_PID)

echo "# registering $((2 * PAIRS)) accounts" >&2
"$LOAD" --mode register --port "$CHAT_PORT" --pairs "$PAIRS" > "$WORK/register.json"
cat "$WORK/register.json" >&2

run() {  # run NAME ARGS...: one sb-chatload run, its JSON line tagged with "bench":NAME
  local name="$1"; shift
  local stored_before; stored_before=$(metric switchboard_messaging_messages_stored_total)
  echo "# $name: sb-chatload $*" >&2
  "$LOAD" --port "$CHAT_PORT" --pairs "$PAIRS" --threads "$CLIENT_THREADS" "$@" \
    > "$WORK/$name.json" || true
  local stored_after; stored_after=$(metric switchboard_messaging_messages_stored_total)
  local rss; rss=$(rss_kb $SB_PID)
  sed "s/^{/{\"bench\":\"$name\",\"stored\":$((stored_after - stored_before)),\"server_rss_kb\":$rss,/" \
    "$WORK/$name.json" | tee -a "$WORK/results.jsonl"
}
# RSS per logged-in connection, before the load runs (they grow the heap and SQLite's page
# cache, and what they free stays in the allocator, so a later delta can even come out negative):
# 1,000 connections held, logged in, idle, against the server right after the registrations;
# then the idle TLS connections, also before the load runs.
RSS_1K=$(rss_kb $SB_PID)
"$LOAD" --mode open --port "$CHAT_PORT" --pairs "$PAIRS" --threads "$CLIENT_THREADS" --rate 1 \
  --seconds 3 --warmup 1 > /dev/null &
LOAD_PID=$!
sleep 4
RSS_HELD=$(rss_kb $SB_PID)
wait $LOAD_PID || true

RSS_PRE_IDLE=$(rss_kb $SB_PID)
echo "# idle: $IDLE TLS connections held for $HOLD s" >&2
"$LOAD" --mode idle --port "$CHAT_PORT" --connections "$IDLE" --threads "$CLIENT_THREADS" \
  --seconds "$HOLD" > "$WORK/idle.json" &
LOAD_PID=$!
RSS_IDLE=0
for _ in $(seq 1 600); do
  sleep 0.5
  kill -0 $LOAD_PID 2>/dev/null || break
  r=$(rss_kb $SB_PID); [ "$r" -gt "$RSS_IDLE" ] && RSS_IDLE=$r
done
wait $LOAD_PID || true
sed "s/^{/{\"bench\":\"idle\",\"server_rss_peak_kb\":$RSS_IDLE,/" "$WORK/idle.json" \
  | tee -a "$WORK/results.jsonl"

run saturate --mode saturate --depth "$DEPTH" --seconds "$SECONDS_RUN"
run open --mode open --rate "$RATE" --seconds "$SECONDS_RUN"

echo "# summary (server RSS: empty ${RSS_EMPTY} kB, after the registrations ${RSS_1K} kB, 1,000 logged in ${RSS_HELD} kB)"
python3 - "$WORK/results.jsonl" "$RSS_1K" "$RSS_HELD" "$RSS_IDLE" "$IDLE" "$((2 * PAIRS))" \
  "$RSS_PRE_IDLE" <<'PY'
import json, sys
rows = {r["bench"]: r for r in map(json.loads, open(sys.argv[1]))}
# empty: no connection open (after the registrations); pre_idle: right before the idle run
empty, held, idle_peak, idle_n, conns, pre_idle = map(int, sys.argv[2:])
s, o, i = rows.get("saturate", {}), rows.get("open", {}), rows.get("idle", {})
print(f"saturation: {s.get('delivered_per_s', 0):,.0f} delivered msg/s (depth {s.get('depth')}), "
      f"lost {s.get('lost')}, acked {s.get('acked')}, received {s.get('received')}, "
      f"stored {s.get('stored')}, p99 {s.get('p99_ms')} ms")
print(f"open loop {o.get('offered', 0):,.0f}/s: delivered {o.get('delivered_per_s', 0):,.0f}/s, "
      f"p50 {o.get('p50_ms')} ms, p99 {o.get('p99_ms')} ms, p99.9 {o.get('p999_ms')} ms, "
      f"max {o.get('max_ms')} ms, lost {o.get('lost')}, stored {o.get('stored')}")
print(f"RSS per logged-in connection: {(held - empty) / max(conns, 1):.1f} kB "
      f"({conns} connections, {held} kB vs {empty} kB with none open)")
print(f"idle: {i.get('held')}/{idle_n} TLS connections held, {i.get('answered_after_hold')} "
      f"answered after {i.get('hold_s')} s; peak RSS {idle_peak} kB "
      f"({(idle_peak - pre_idle) / max(idle_n, 1):.1f} kB per connection over {pre_idle} kB)")
PY
