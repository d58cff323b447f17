#!/usr/bin/env bash
# Issue 8 benchmark ("every connection on the reactor"), one run side by side on this machine:
# the bare POCO server, nginx `return 200` and Switchboard's pairing POST /get_server_details
# under wrk -t2 at 64 and 10,000 keep-alive connections; server memory per idle connection
# (fresh, and after one request); server RSS around a burst of 32 x 4 MiB bodies.
#
# How to run:  scripts/setup && scripts/build release && bench/reactor.sh [build-dir]
#   (default build/release; needs wrk, nginx, python3 and curl; run it on an otherwise idle
#   machine: the first comment line shows the load average.)
# Each server also gets one wrk -c64 run while bench/idle.py holds IDLE_DURING_LOAD idle
# connections open on it ("idle_held" in its line): 64 busy among 10,000 open connections.
# Environment: DURATION (10s per wrk run), CONNECTION_COUNTS ("64 10000"), IDLE_DURING_LOAD
#   (10000; 0 skips that run), IDLE_CONNECTIONS (10000, the memory test), BURST_CLIENTS (32),
#   BURST_ROUNDS (3), BURST_BYTES (4194304).
# stdout: one JSON line per run, then one "reactor-summary" line (ratios and goals); stderr:
# comment lines. A run that fails (wrk errors, refused or dropped connections, a dead server)
# prints "ok":false and the driver goes on; the exit status is 1 if any run failed. Everything
# listens on 127.0.0.1 (nginx too, started here with its own config; the system service is not
# used) and stops by itself.
set -uo pipefail # no -e: a failed run is reported and the next one still runs
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
if [ ! -d "$BUILD" ]; then
  echo "bench/reactor.sh: no build directory $BUILD (scripts/build release)" >&2
  exit 2
fi
BUILD="$(cd "$BUILD" && pwd)" # the config names the plugin directory by absolute path
DURATION="${DURATION:-10s}"
CONNECTION_COUNTS="${CONNECTION_COUNTS:-64 10000}"
IDLE_CONNECTIONS="${IDLE_CONNECTIONS:-10000}"
IDLE_DURING_LOAD="${IDLE_DURING_LOAD:-10000}"
BURST_CLIENTS="${BURST_CLIENTS:-32}"
BURST_ROUNDS="${BURST_ROUNDS:-3}"
BURST_BYTES="${BURST_BYTES:-4194304}"
source bench/lib.sh
bench_init reactor
RESULTS="$WORK/results.jsonl"
FAILED=0
for tool in wrk nginx python3 curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench/reactor.sh: no $tool (scripts/setup installs it)" >&2
    exit 2
  fi
done
for bin in switchboard sb-bare-server; do
  if [ ! -x "$BUILD/$bin" ]; then
    echo "bench/reactor.sh: $BUILD/$bin missing (scripts/build release)" >&2
    exit 2
  fi
done
# wrk, the idle client and the servers each hold one descriptor per connection.
NEED_FDS=$((IDLE_CONNECTIONS > 10000 ? IDLE_CONNECTIONS + 1000 : 11000))
if [ "$(ulimit -n)" -lt "$NEED_FDS" ]; then
  echo "bench/reactor.sh: open-file limit $(ulimit -n) < $NEED_FDS (hard limit $(ulimit -Hn))" >&2
  exit 2
fi
if awk '{exit !($1 > 1.0)}' /proc/loadavg; then
  echo "# WARNING: load average $(cut -d' ' -f1 /proc/loadavg) > 1: something else is using" \
    "the CPUs; the numbers will be low" >&2
fi

# emit JSON: prints the line and keeps it for the summary.
emit() { echo "$1"; echo "$1" >> "$RESULTS"; }
fail_line() {
  local held=""
  [ -n "${IDLE_HELD:-}" ] && held=",\"idle_held\":$IDLE_HELD"
  emit "{\"bench\":\"$1\",\"connections\":$2$held,\"ok\":false,\"error\":\"$3\"}"
  FAILED=1
}
last_line() { tail -1 | tr -d '"\\'; } # the last line of stdin, safe inside a JSON string
# alive PID: running (an exited child stays a zombie until waited for: that is not alive).
alive() { local st; st=$(ps -o stat= -p "$1") && [ "${st:0:1}" != Z ]; }
# stop PID: SIGTERM, then SIGKILL if it is still running 10 s later; reaps it.
stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    alive "$1" || break
    sleep 0.1
  done
  if alive "$1"; then
    echo "# pid $1 still running 10 s after SIGTERM: killed" >&2
    kill -KILL "$1" 2>/dev/null
  fi
  wait "$1" 2>/dev/null || true
}
# Resident memory of a process and its children (nginx: master + workers), in KiB.
tree_rss_kb() { ps -o rss= -p "$1" --ppid "$1" | awk '{s += $1} END {print s + 0}'; }

# wrk_run NAME CONNS URL PID [VAR=value...]: one wrk -t2 run of post.lua; prints its summary
# tagged with bench, connections, the server's RSS afterwards and ok (no errors, server alive).
# --timeout 5s: wrk's default 2 s would count slow answers at 10,000 connections as timeouts
# and leave them out of the percentiles.
wrk_run() {
  local name="$1" conns="$2" url="$3" pid="$4"; shift 4
  local out="$WORK/wrk-$name-$conns.out" secs="${DURATION%s}"
  echo "# $name: wrk -t2 -c$conns -d$DURATION --timeout 5s $url" >&2
  env "$@" timeout $((secs + 60)) wrk -t2 -c"$conns" -d"$DURATION" --timeout 5s --latency \
    -s bench/wrk/post.lua "$url" > "$out" 2>&1
  local rc=$? line
  line=$(grep '^{"wrk"' "$out")
  if [ -z "$line" ]; then
    fail_line "$name" "$conns" "wrk exit $rc, no summary: $(grep -v '^{' "$out" | last_line)"
    return
  fi
  local server_ok=true
  alive "$pid" || server_ok=false
  line=$(python3 - "$line" "$name" "$conns" "$server_ok" "$(tree_rss_kb "$pid")" \
    "${IDLE_HELD:-}" "$IDLE_DURING_LOAD" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
e = r["errors"]
bad = e["connect"] + e["read"] + e["write"] + e["status"] + e["timeout"]
out = {"bench": sys.argv[2], "connections": int(sys.argv[3])}
if sys.argv[6]:
    out["idle_held"] = int(sys.argv[6])
out.update(r)
out["server_rss_kb"] = int(sys.argv[5] or 0)
out["server_alive"] = sys.argv[4] == "true"
# With idle connections held, all of them must still be open when the run starts.
held_ok = not sys.argv[6] or int(sys.argv[6]) >= int(sys.argv[7])
out["ok"] = bad == 0 and r["requests"] > 0 and out["server_alive"] and held_ok
print(json.dumps(out, separators=(",", ":")))
PY
)
  emit "$line"
  case "$line" in *'"ok":false'*) FAILED=1 ;; esac
}

# load_runs NAME PID PORT BODY: wrk at each of CONNECTION_COUNTS, then wrk -c64 while bench/idle.py
# holds IDLE_DURING_LOAD fresh idle connections on the same port (skipped when 0).
load_runs() {
  local name="$1" pid="$2" port="$3" body="$4" c url="http://127.0.0.1:$3/get_server_details"
  for c in $CONNECTION_COUNTS; do
    if ! alive "$pid"; then
      fail_line "$name" "$c" "server exited: $(last_line < "$SERVER_LOG")"
      continue
    fi
    wrk_run "$name" "$c" "$url" "$pid" WRK_BODY="$body"
  done
  [ "$IDLE_DURING_LOAD" -gt 0 ] || return 0
  local out="$WORK/held-$name.out" held=0 holder
  echo "# $name: bench/idle.py holds $IDLE_DURING_LOAD idle connections during the next run" >&2
  timeout 600 python3 bench/idle.py --port "$port" --pid "$pid" --connections "$IDLE_DURING_LOAD" \
    --hold 600 --name "$name-idle-held" > "$out" 2> "$WORK/held-$name.err" &
  holder=$!
  PIDS+=($holder)
  for _ in $(seq 1 900); do
    [ -s "$out" ] && break
    alive "$holder" || break
    sleep 0.1
  done
  held=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["open_after"])' "$out" \
    2>/dev/null || echo 0)
  if alive "$pid"; then
    IDLE_HELD=$held wrk_run "$name" 64 "$url" "$pid" WRK_BODY="$body"
  else
    IDLE_HELD=$held fail_line "$name" 64 "server exited: $(last_line < "$SERVER_LOG")"
  fi
  stop "$holder"
}

# 1. The reference: a bare POCO HTTPServer answering fixed JSON.
BARE_PORT=$(free_port)
SERVER_LOG="$WORK/bare.log"
"$BUILD/sb-bare-server" --port "$BARE_PORT" --threads 128 > "$SERVER_LOG" 2>&1 &
BARE_PID=$!
PIDS+=($BARE_PID)
if wait_http "http://127.0.0.1:$BARE_PORT/"; then
  load_runs bare-poco "$BARE_PID" "$BARE_PORT" '{"pairing_code":1234}'
else
  for c in $CONNECTION_COUNTS; do fail_line bare-poco "$c" "server did not start"; done
fi
stop "$BARE_PID"

# 2. nginx return 200 on the same CPUs (2 workers), its own prefix, config and logs in $WORK.
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
worker_rlimit_nofile $(ulimit -n);
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
CONF
# -e: the error log before the config is read (Debian's default is /var/log/nginx).
SERVER_LOG="$WORK/nginx/error.log"
nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
  > "$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=($NGINX_PID)
if wait_http "http://127.0.0.1:$NGINX_PORT/"; then
  echo "# nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'), 2 workers" >&2
  load_runs nginx-return-200 "$NGINX_PID" "$NGINX_PORT" '{"pairing_code":1234}'
else
  echo "# nginx did not start: $(tail -1 "$WORK/nginx/error.log" 2>/dev/null)" >&2
  for c in $CONNECTION_COUNTS; do fail_line nginx-return-200 "$c" "nginx did not start"; done
fi
stop "$NGINX_PID"

# 3. Switchboard, pairing plugin, config as in bench/run.sh plus the timeouts the idle test
# needs, and the contract's connection limits (when this binary knows them: older ones refuse
# unknown keys) raised above every connection count used here.
PAIR_PORT=$(free_port); PUB_PORT=$(free_port); ADMIN_PORT=$(free_port)
# write_config FILE EXTRA: the bench config, EXTRA appended to the pairing listener's keys.
write_config() {
  cat > "$1" <<YAML
server: { data_dir: $WORK/var, plugin_dirs: [$BUILD/plugins], log: { level: warning } }
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  pairing: { bind: 127.0.0.1, port: $PAIR_PORT, keepalive_timeout: 600s, request_timeout: 600s$2 }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
plugins:
  pairing: { listener: pairing, offline_after: 600s, registration_limit: { per_address: 0, per_network: 0 } }
YAML
}
MAXC=$((IDLE_CONNECTIONS + 10000))
write_config "$WORK/bench.yaml" ", max_connections: $MAXC, max_connections_per_address: $MAXC"
if "$BUILD/switchboard" --config "$WORK/bench.yaml" --check-config > "$WORK/probe.log" 2>&1; then
  echo "# switchboard: max_connections and max_connections_per_address set to $MAXC" >&2
else
  write_config "$WORK/bench.yaml" ""
  echo "# switchboard: this binary has no max_connections keys, run without them" \
    "($(head -1 "$WORK/probe.log"))" >&2
  if ! "$BUILD/switchboard" --config "$WORK/bench.yaml" --check-config >"$WORK/probe.log" 2>&1; then
    echo "bench/reactor.sh: the bench config is refused: $(cat "$WORK/probe.log")" >&2
    exit 2
  fi
fi

# start_switchboard NAME REGISTRATIONS: a fresh server with its own data dir; sets SB_PID and
# CODE (a pairing code), or returns 1.
start_switchboard() {
  rm -rf "$WORK/var"
  SERVER_LOG="$WORK/switchboard-$1.log"
  "$BUILD/switchboard" --config "$WORK/bench.yaml" > "$SERVER_LOG" 2>&1 &
  SB_PID=$!
  PIDS+=($SB_PID)
  if ! wait_http "http://127.0.0.1:$PAIR_PORT/readyz"; then
    echo "# switchboard did not start: $(tail -1 "$WORK/switchboard-$1.log")" >&2
    stop "$SB_PID"
    return 1
  fi
  CODE=$(python3 bench/register.py "$PAIR_PORT" "$2" "$WORK/keys.txt") || return 1
}

if start_switchboard wrk 1000; then
  load_runs pairing-details "$SB_PID" "$PAIR_PORT" "{\"pairing_code\":$CODE}"
  stop "$SB_PID"
else
  for c in $CONNECTION_COUNTS; do fail_line pairing-details "$c" "switchboard did not start"; done
fi

# 4. Idle connections, each mode on a fresh server warmed by a few requests.
for mode in fresh after-request; do
  if ! start_switchboard "idle-$mode" 10; then
    fail_line "idle-$mode" "$IDLE_CONNECTIONS" "switchboard did not start"
    continue
  fi
  for _ in 1 2 3; do
    curl -s -o /dev/null -X POST -d "{\"pairing_code\":$CODE}" \
      "http://127.0.0.1:$PAIR_PORT/get_server_details"
  done
  echo "# idle-$mode: bench/idle.py --connections $IDLE_CONNECTIONS" >&2
  args=(--port "$PAIR_PORT" --pid "$SB_PID" --connections "$IDLE_CONNECTIONS")
  [ "$mode" = after-request ] && args+=(--request /get_server_details "{\"pairing_code\":$CODE}")
  if line=$(timeout 120 python3 bench/idle.py "${args[@]}" 2> "$WORK/idle-$mode.err"); then
    emit "$line"
  elif [ -n "$line" ]; then
    emit "$line"; FAILED=1
  else
    fail_line "idle-$mode" "$IDLE_CONNECTIONS" "idle.py: $(last_line < "$WORK/idle-$mode.err")"
  fi
  alive "$SB_PID" || fail_line "idle-$mode" "$IDLE_CONNECTIONS" \
    "server exited: $(last_line < "$SERVER_LOG")"
  stop "$SB_PID"
done

# 5. Large bodies: RSS before, at the peak, right after and 3 s after a burst.
if start_switchboard burst 10; then
  echo "# large-body-burst: $BURST_CLIENTS clients x $BURST_ROUNDS rounds x $BURST_BYTES bytes" >&2
  if line=$(timeout 300 python3 bench/burst.py --port "$PAIR_PORT" --pid "$SB_PID" \
      --clients "$BURST_CLIENTS" --rounds "$BURST_ROUNDS" --size "$BURST_BYTES" \
      2> "$WORK/burst.err"); then
    emit "$line"
  elif [ -n "$line" ]; then
    emit "$line"; FAILED=1
  else
    fail_line large-body-burst "$BURST_CLIENTS" "burst.py: $(last_line < "$WORK/burst.err")"
  fi
  stop "$SB_PID"
else
  fail_line large-body-burst "$BURST_CLIENTS" "switchboard did not start"
fi

# 6. The ratios and the issue's goals, from the lines above. With every one of N connections
# busy, wrk's mean latency is N / throughput (Little's law), shown as mean_latency_ms: at
# -c10000 it is far above 10 ms for any server here, so the p99 goal is also judged on the
# c64+idle run (64 busy among 10,000 open keep-alive connections).
python3 - "$RESULTS" "$IDLE_DURING_LOAD" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def run(bench, conns, held):
    for r in runs:
        if r["bench"] == bench and r.get("connections") == conns and ("idle_held" in r) == held:
            return r
    return None
def ratio(a, b):
    return round(a["rps"] / b["rps"], 3) if a and b and a.get("ok") and b.get("ok") else None
def goals(conns, held):
    sb = run("pairing-details", conns, held)
    over_bare = ratio(sb, run("bare-poco", conns, held))
    over_nginx = ratio(sb, run("nginx-return-200", conns, held))
    ok = bool(sb and sb.get("ok"))
    p99 = float(sb["p99_ms"]) if ok else None
    return {"switchboard_rps": sb["rps"] if ok else None,
            "switchboard_over_bare": over_bare, "switchboard_over_nginx": over_nginx,
            "switchboard_p99_ms": p99,
            "mean_latency_ms": round(conns / sb["rps"] * 1000, 3) if ok and sb["rps"] else None,
            "goal_met": bool(over_bare and over_bare >= 1.2 and over_nginx and over_nginx >= 0.6
                             and p99 is not None and p99 <= 10.0)}
summary = {"bench": "reactor-summary"}
sb_runs = [r for r in runs if r["bench"] == "pairing-details"]
for c in sorted({r["connections"] for r in sb_runs if "idle_held" not in r}):
    summary["c%d" % c] = goals(c, False)
held = [r for r in sb_runs if "idle_held" in r]
if held:
    key = "c64+idle%s" % sys.argv[2]
    summary[key] = goals(64, True)
    summary[key]["idle_held"] = held[0]["idle_held"]
for mode in ("idle-fresh", "idle-after-request"):
    r = next((r for r in runs if r["bench"] == mode), None)
    ok = bool(r and r.get("ok"))
    # Shown even when the server dropped some (open_after < connections): then only
    # bytes_per_open_connection is per connection held.
    summary[mode] = {k: r.get(k) if r else None
                     for k in ("bytes_per_connection", "bytes_per_open_connection", "open_after")}
    summary[mode]["goal_met"] = ok and r["bytes_per_connection"] <= 4096
b = next((r for r in runs if r["bench"] == "large-body-burst"), None)
if b and "rss_peak_kb" in b:
    grown = max(b["rss_peak_kb"] - b["rss_before_kb"], 1)
    kept = round(b["settled_growth_kb"] / grown, 3)
    # "returns near its level before": at most a tenth of the burst's growth is still held.
    summary["large-body-burst"] = {"peak_growth_kb": grown,
                                   "settled_growth_kb": b["settled_growth_kb"],
                                   "retained_fraction": kept,
                                   "goal_met": bool(b.get("ok")) and kept <= 0.1}
else:
    summary["large-body-burst"] = {"goal_met": False}
summary["all_runs_ok"] = all(r.get("ok") for r in runs)
print(json.dumps(summary, separators=(",", ":")))
PY
exit $FAILED
