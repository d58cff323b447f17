#!/usr/bin/env bash
# Signaling benchmark (issue 9): Switchboard with the auth and signaling plugins, driven by
# sb-sigload (bench/sigload/, epoll WebSocket client) over source addresses 127.0.0.x:
#   setup   USERS accounts, ORGS organizations of AGENTS/ORGS members with an address each, plus
#           the relay organizations and one fan-out organization of PEERS+1 (signaling_setup.py)
#   hold    AGENTS agents connect and register (rate, errors, presence complete, server RSS)
#   fanout  peer_online / peer_offline from one new agent to PEERS peers, ROUNDS rounds
#   relay   signal round trips between PAIRS pairs for DURATION seconds
# With DURING_HOLD=1 (default) fanout and relay run while the AGENTS agents are held, so the
# node carries all of them at once; DURING_HOLD=0 runs them one after the other.
#
# How to run:  scripts/build release && bench/run-signaling.sh [build-dir]   (default
#   build/release; as root: the driver raises the descriptor hard limit for itself, the server
#   and the client.) A quick run: AGENTS=2000 ORGS=20 PEERS=100 ROUNDS=5 PAIRS=50 DURATION=3
# Environment: AGENTS (100000), ORGS (1000), PEERS (1000), ROUNDS (20), WARMUP (2), PAIRS
#   (1000), DURATION (10, seconds of relay), HOLD (10, seconds the agents are held at least),
#   THREADS (2, client loops), WINDOW (512, agents connecting at once), EVENT_THREADS (2, the
#   server's), DURING_HOLD (1), SETUP_PROCESSES (2), USERS (0: max(AGENTS/ORGS, PEERS+1); each
#   user is in about AGENTS/USERS organizations), LIGHT_PAIRS (10: a second relay run with few
#   pairs, for latency rather than throughput; 0 skips it).
# stdout: one JSON line per run and a "signaling-summary" line; stderr: comment lines. Exit
# status 1 if any run failed. Everything listens on 127.0.0.1 and stops by itself.
set -uo pipefail # no -e: a failed run is reported and the summary still printed
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
if [ ! -x "$BUILD/switchboard" ] || [ ! -x "$BUILD/sb-sigload" ]; then
  echo "bench/run-signaling.sh: $BUILD/switchboard or $BUILD/sb-sigload missing" \
    "(scripts/build release)" >&2
  exit 2
fi
BUILD="$(cd "$BUILD" && pwd)" # the config names the plugin directory by absolute path
AGENTS="${AGENTS:-100000}"
ORGS="${ORGS:-1000}"
PEERS="${PEERS:-1000}"
ROUNDS="${ROUNDS:-20}"
WARMUP="${WARMUP:-2}"
PAIRS="${PAIRS:-1000}"
DURATION="${DURATION:-10}"
HOLD="${HOLD:-10}"
THREADS="${THREADS:-2}"
WINDOW="${WINDOW:-512}"
EVENT_THREADS="${EVENT_THREADS:-2}"
DURING_HOLD="${DURING_HOLD:-1}"
SETUP_PROCESSES="${SETUP_PROCESSES:-2}"
USERS="${USERS:-0}"
LIGHT_PAIRS="${LIGHT_PAIRS:-10}"
if [ $((AGENTS % ORGS)) -ne 0 ]; then
  echo "bench/run-signaling.sh: AGENTS ($AGENTS) must be a multiple of ORGS ($ORGS)" >&2
  exit 2
fi
PER_ORG=$((AGENTS / ORGS))

# Descriptors: the server holds one per connection, and so does each client process. Raising
# the hard limit needs CAP_SYS_RESOURCE: root usually has it, a container may not (then the
# limit stays at this machine's 20,000 and fewer agents fit).
if [ "$DURING_HOLD" = 1 ]; then
  NEED_FDS=$((AGENTS + PEERS + 1 + 2 * PAIRS + 500))
else
  NEED_FDS=$(printf '%s\n' "$AGENTS" $((PEERS + 1)) $((2 * PAIRS)) | sort -n | tail -1)
  NEED_FDS=$((NEED_FDS + 500))
fi
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NEED_FDS" ]; then
  if ! ulimit -Hn "$NEED_FDS" 2>/dev/null; then
    HARD=$(ulimit -Hn)
    if [ "$DURING_HOLD" = 1 ]; then
      FIT=$(((HARD - PEERS - 1 - 2 * PAIRS - 500) / PER_ORG * PER_ORG))
    else
      FIT=$(((HARD - 500) / PER_ORG * PER_ORG))
    fi
    echo "bench/run-signaling.sh: $NEED_FDS descriptors needed, the hard limit is $HARD and" \
      "may not be raised here (no CAP_SYS_RESOURCE?). At most AGENTS=$FIT fit," \
      "e.g. AGENTS=$FIT ORGS=$((FIT / PER_ORG))." >&2
    exit 2
  fi
fi
source bench/lib.sh
bench_init signaling # also raises the soft limit to the hard one
echo "# descriptors: $(ulimit -n); agents $AGENTS in $ORGS organizations of $PER_ORG," \
  "fan-out to $PEERS, $PAIRS relay pairs" >&2
if awk '{exit !($1 > 1.0)}' /proc/loadavg; then
  echo "# WARNING: load average $(cut -d' ' -f1 /proc/loadavg) > 1: something else is using" \
    "the CPUs; the numbers will be low" >&2
fi
RESULTS="$WORK/results.jsonl"
FAILED=0
emit() { echo "$1"; echo "$1" >> "$RESULTS"; }
fail_line() { emit "{\"bench\":\"$1\",\"ok\":false,\"error\":\"$(echo "$2" | tr -d '"\\')\"}"; FAILED=1; }
alive() { local st; st=$(ps -o stat= -p "$1") && [ "${st:0:1}" != Z ]; }
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# Source addresses: each gives the client about 28,000 ephemeral ports towards the server.
BIND_COUNT=$((AGENTS / 20000 + 2))

PUB_PORT=$(free_port); ADMIN_PORT=$(free_port)
MAXC=$((AGENTS + PEERS + 2 * PAIRS + 1000))
cat > "$WORK/bench.yaml" <<YAML
server:
  data_dir: $WORK/var
  plugin_dirs: [$BUILD/plugins]
  log: { level: warning }
  event_threads: $EVENT_THREADS
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public:
    bind: 127.0.0.1
    port: $PUB_PORT
    keepalive_timeout: 120s
    max_connections: $MAXC
    max_connections_per_address: $MAXC
    websocket: { idle_timeout: 600s }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
plugins:
  auth:
    listener: public
    jwt: { secret: "bench-secret-bench-secret-bench-secret-0123" }
    password_hash: { memory: 8MiB, passes: 1 }
    rate_limit: { per_address: 0, per_account: 0 }
  signaling:
    listener: public
    max_organizations_per_user: 100000
    # The relay is a closed loop: each pair sends as fast as the server answers.
    signal_rate: 1000000
    signal_burst: 1000000
YAML
if ! "$BUILD/switchboard" --config "$WORK/bench.yaml" --check-config > "$WORK/check.log" 2>&1; then
  echo "bench/run-signaling.sh: the bench config is refused:" >&2
  cat "$WORK/check.log" >&2
  exit 2
fi
SERVER_LOG="$WORK/switchboard.log"
"$BUILD/switchboard" --config "$WORK/bench.yaml" > "$SERVER_LOG" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
if ! wait_http "http://127.0.0.1:$PUB_PORT/readyz"; then
  echo "bench/run-signaling.sh: switchboard did not start: $(tail -3 "$SERVER_LOG")" >&2
  exit 1
fi
RSS_EMPTY=$(rss_kb "$SB_PID")

echo "# setup: accounts, organizations, memberships and addresses over REST" >&2
if line=$(python3 bench/signaling_setup.py "$PUB_PORT" "$WORK" "$ORGS" "$PER_ORG" "$PEERS" \
    "$PAIRS" "$USERS" "$SETUP_PROCESSES" 2> "$WORK/setup.err"); then
  emit "${line%\}},\"server_rss_kb\":$(rss_kb "$SB_PID")}"
else
  fail_line signaling-setup "$(tail -1 "$WORK/setup.err")"
  tail -5 "$WORK/setup.err" >&2
  exit 1
fi
RSS_SETUP=$(rss_kb "$SB_PID")

# sigload NAME ARGS...: one sb-sigload run in the foreground; its result line is emitted.
sigload() {
  local name="$1"; shift
  local out="$WORK/$name.out" err="$WORK/$name.err"
  echo "# $name: sb-sigload $*" >&2
  "$BUILD/sb-sigload" "$@" --port "$PUB_PORT" --server-pid "$SB_PID" --threads "$THREADS" \
    --window "$WINDOW" > "$out" 2> "$err"
  local rc=$?
  grep '^#' "$err" >&2
  finish_run "$name" "$rc" "$out" "$err"
}
# finish_run NAME RC OUT ERR: emits the result line with "ok" added (or a failure line).
finish_run() {
  local line
  line=$(grep '^{' "$3" | tail -1)
  if [ -z "$line" ]; then
    fail_line "$1" "exit $2, no result: $(grep -v '^#' "$4" | tail -1)"
    return
  fi
  if [ "$2" -eq 0 ]; then
    emit "${line%\}},\"ok\":true}"
  else
    emit "${line%\}},\"ok\":false}"
    grep -v '^#' "$4" | head -8 >&2
    FAILED=1
  fi
}
fanout_and_relay() {
  sigload signaling-fanout fanout --agents "$WORK/agents-fanout.txt" --peers "$PEERS" \
    --rounds "$ROUNDS" --warmup "$WARMUP" --bind 127.0.1.2 --bind-count 1
  alive "$SB_PID" || { fail_line signaling-relay "server exited: $(tail -1 "$SERVER_LOG")"; return; }
  sigload signaling-relay relay --agents "$WORK/agents-relay.txt" --pairs "$PAIRS" \
    --duration "$DURATION" --bind 127.0.2.2 --bind-count 1
  if [ "$LIGHT_PAIRS" -gt 0 ]; then
    sigload signaling-relay-light relay --agents "$WORK/agents-relay.txt" \
      --pairs "$LIGHT_PAIRS" --duration "$DURATION" --bind 127.0.3.2 --bind-count 1 \
      --name signaling-relay-light
  fi
}

HOLD_ARGS=(hold --agents "$WORK/agents-hold.txt" --bind 127.0.0.2 --bind-count "$BIND_COUNT"
  --port "$PUB_PORT" --server-pid "$SB_PID" --threads "$THREADS" --window "$WINDOW"
  --timeout 600 --settle 120)
if [ "$DURING_HOLD" = 1 ]; then
  echo "# signaling-hold: sb-sigload ${HOLD_ARGS[*]} --hold 3600 (fanout and relay run while" \
    "it holds; SIGUSR1 ends it)" >&2
  "$BUILD/sb-sigload" "${HOLD_ARGS[@]}" --hold 3600 > "$WORK/hold.out" 2> "$WORK/hold.err" &
  HOLDER=$!
  PIDS+=($HOLDER)
  # Until it holds (or gave up): the line "# hold: N registered in ..." comes after presence.
  while alive "$HOLDER" && ! grep -q '^# hold: .* holding' "$WORK/hold.err"; do sleep 0.2; done
  grep '^#' "$WORK/hold.err" >&2
  HOLD_START=$(date +%s)
  if alive "$HOLDER"; then
    fanout_and_relay
    left=$((HOLD - ($(date +%s) - HOLD_START)))
    [ "$left" -gt 0 ] && sleep "$left"
    kill -USR1 "$HOLDER"
  fi
  wait "$HOLDER"
  rc=$?
  finish_run signaling-hold "$rc" "$WORK/hold.out" "$WORK/hold.err"
else
  echo "# signaling-hold: sb-sigload ${HOLD_ARGS[*]} --hold $HOLD" >&2
  "$BUILD/sb-sigload" "${HOLD_ARGS[@]}" --hold "$HOLD" > "$WORK/hold.out" 2> "$WORK/hold.err"
  rc=$?
  grep '^#' "$WORK/hold.err" >&2
  finish_run signaling-hold "$rc" "$WORK/hold.out" "$WORK/hold.err"
  fanout_and_relay
fi
RSS_END=$(rss_kb "$SB_PID")
RSS_PEAK=$(peak_kb "$SB_PID")
if ! alive "$SB_PID"; then
  fail_line signaling-server "server exited: $(tail -1 "$SERVER_LOG")"
fi
emit "{\"bench\":\"signaling-rss\",\"rss_empty_kb\":$RSS_EMPTY,\"rss_after_setup_kb\":$RSS_SETUP,\"rss_end_kb\":${RSS_END:-null},\"rss_peak_kb\":${RSS_PEAK:-null}}"
if grep -qiE 'error|critical|fatal' "$SERVER_LOG"; then
  echo "# server log (errors):" >&2
  grep -iE 'error|critical|fatal' "$SERVER_LOG" | head -10 >&2
fi

# The issue's bars, from the lines above.
python3 - "$RESULTS" "$AGENTS" <<'PY'
import json, sys
runs = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    runs[r["bench"]] = r
agents = int(sys.argv[2])
h, f, r, l, m = (runs.get(k, {}) for k in ("signaling-hold", "signaling-fanout",
                                            "signaling-relay", "signaling-relay-light",
                                            "signaling-rss"))
peak = m.get("rss_peak_kb")
s = {"bench": "signaling-summary", "agents": agents,
     "registered": h.get("registered"), "hold_errors": h.get("errors"),
     "connect_register_per_s": h.get("connect_register_per_s"),
     "server_rss_peak_mib": round(peak / 1024, 1) if peak else None,
     "server_rss_held_mib": round(h["server_rss_held_kb"] / 1024, 1)
     if h.get("server_rss_held_kb") else None,
     "fanout_peers": f.get("peers"), "online_p50_ms": f.get("online_p50_ms"),
     "online_p99_ms": f.get("online_p99_ms"), "offline_p50_ms": f.get("offline_p50_ms"),
     "offline_p99_ms": f.get("offline_p99_ms"),
     "relay_pairs": r.get("pairs"), "relay_round_trips_per_s": r.get("round_trips_per_s"),
     "relay_p50_ms": r.get("rtt_p50_ms"), "relay_p99_ms": r.get("rtt_p99_ms"),
     "light_relay_pairs": l.get("pairs"), "light_relay_round_trips_per_s":
     l.get("round_trips_per_s"), "light_relay_p50_ms": l.get("rtt_p50_ms"),
     "light_relay_p99_ms": l.get("rtt_p99_ms")}
s["hold_goal_met"] = bool(h.get("ok") and h.get("registered") == agents and peak
                          and peak <= 1024 * 1024)
s["fanout_goal_met"] = bool(f.get("ok") and f.get("online_p99_ms") is not None
                            and f["online_p99_ms"] <= 20 and f["offline_p99_ms"] <= 20)
s["all_runs_ok"] = all(x.get("ok", True) for x in runs.values())
print(json.dumps(s, separators=(",", ":")))
PY
kill "$SB_PID" 2>/dev/null; wait "$SB_PID" 2>/dev/null
exit $FAILED
