#!/usr/bin/env bash
# Auth benchmarks: POST /login (bounded by Argon2id) and POST /communicate with an echo Lua hook,
# compared with the same route answered by C++ (/_bench/communicate, mounted by the bench-only
# option plugins.auth.benchmark_route; identical up to the hook call). Prints one JSON line per
# run plus the Lua cost. Usage: bench/run-auth.sh [build-dir] (default build/release).
# Environment: DURATION (10s), HASH_MEMORY (19MiB), HASH_PASSES (2), LOGIN_CONNECTIONS (16),
# USERS (64), ROUNDS (3 C++/Lua pairs). Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
HASH_MEMORY="${HASH_MEMORY:-19MiB}"
HASH_PASSES="${HASH_PASSES:-2}"
LOGIN_CONNECTIONS="${LOGIN_CONNECTIONS:-16}"
USERS="${USERS:-64}"
ROUNDS="${ROUNDS:-3}"
PASSWORD="bench-password-1"
source bench/lib.sh
bench_init auth

# The reference: a bare POCO HTTPServer answering fixed JSON (if built).
if [ -x "$BUILD/sb-bare-server" ]; then
  BARE_PORT=$(free_port)
  "$BUILD/sb-bare-server" --port "$BARE_PORT" --threads 128 > "$WORK/bare.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$BARE_PORT/"
  run_wrk bare-poco "http://127.0.0.1:$BARE_PORT/communicate" post.lua \
    WRK_BODY='{"action":"echo","message":"hello"}'
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

PUB_PORT=$(free_port); ADMIN_PORT=$(free_port)
cat > "$WORK/echo.lua" <<'LUA'
-- The seed's echo callback: answer with the request data.
function on_communicate(username, session_token, data)
  return false, false, data
end
LUA
cat > "$WORK/bench.yaml" <<YAML
server: { data_dir: $WORK/var, plugin_dirs: [$PWD/$BUILD/plugins], log: { level: warning } }
store: { url: "sqlite:$WORK/var/switchboard.db" }
listeners:
  public: { bind: 127.0.0.1, port: $PUB_PORT }
  admin: { bind: 127.0.0.1, port: $ADMIN_PORT }
admin: { token: bench }
lua: { scripts: [$WORK/echo.lua] }
plugins:
  auth:
    listener: public
    benchmark_route: true
    jwt: { secret: "bench-secret-0123456789abcdef0123456789abcdef" }
    password_hash: { memory: $HASH_MEMORY, passes: $HASH_PASSES }
    rate_limit: { per_address: 0, per_account: 0 }
YAML
"$BUILD/switchboard" --config "$WORK/bench.yaml" > "$WORK/switchboard.log" 2>&1 &
SB_PID=$!
PIDS+=($SB_PID)
wait_http "http://127.0.0.1:$PUB_PORT/readyz"

# Accounts to log in as (registration hashes too: a few at a time).
seq 1 "$USERS" | sed 's/^/bench-user-/' > "$WORK/users.txt"
xargs -P 4 -I{} curl -s -o /dev/null -XPOST "http://127.0.0.1:$PUB_PORT/register" \
  -d "{\"email\":\"{}@bench.test\",\"username\":\"{}\",\"password\":\"$PASSWORD\"}" < "$WORK/users.txt"

echo "# argon2id: memory $HASH_MEMORY, passes $HASH_PASSES, parallel = $(nproc) (cores)" >&2
CONNECTIONS="$LOGIN_CONNECTIONS" run_wrk login "http://127.0.0.1:$PUB_PORT/login" login.lua \
  WRK_USERS_FILE="$WORK/users.txt" WRK_PASSWORD="$PASSWORD"

COOKIE=$(curl -s -D - -o /dev/null -XPOST "http://127.0.0.1:$PUB_PORT/login" \
  -d "{\"username\":\"bench-user-1\",\"password\":\"$PASSWORD\"}" \
  | sed -n 's/^Set-Cookie: sessionToken=\([0-9a-f]*\);.*/\1/p' | tr -d '\r')
[ -n "$COOKIE" ] || { echo "login for the communicate runs failed" >&2; exit 1; }
BODY='{"action":"echo","message":"hello"}'
# Same session, same body. C++ and Lua alternate for $ROUNDS rounds so load from elsewhere on
# the machine hits both alike; the cost is computed from the medians (and from the best runs).
# Each run also records the server's own CPU time per request (utime + stime from /proc), which
# other load on the machine disturbs far less than throughput.
TICK_US=$((1000000 / $(getconf CLK_TCK)))
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SB_PID/stat"; }
run_communicate() { # name path
  local before after line
  before=$(cpu_ticks)
  line=$(run_wrk "$1" "http://127.0.0.1:$PUB_PORT$2" communicate.lua WRK_BODY="$BODY" \
    WRK_COOKIE="$COOKIE")
  after=$(cpu_ticks)
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["server_cpu_us_per_req"]=round((int(sys.argv[2])-int(sys.argv[3]))*int(sys.argv[4])/max(r["requests"],1),2); print(json.dumps(r,separators=(",",":")))' \
    "$line" "$after" "$before" "$TICK_US"
}
# Warm-up (not counted): a fresh server's first run is faster than all later ones, whatever
# the route, which would favour whichever route runs first.
for path in /_bench/communicate /communicate; do
  DURATION=3s run_wrk warm-up "http://127.0.0.1:$PUB_PORT$path" communicate.lua \
    WRK_BODY="$BODY" WRK_COOKIE="$COOKIE" > /dev/null
done
RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
  RESULTS+=("$(run_communicate communicate-cpp /_bench/communicate)")
  echo "${RESULTS[-1]}"
  RESULTS+=("$(run_communicate communicate-lua /communicate)")
  echo "${RESULTS[-1]}"
done
python3 - "${RESULTS[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[1:]]
cpp = [r["rps"] for r in runs if r["bench"] == "communicate-cpp"]
lua = [r["rps"] for r in runs if r["bench"] == "communicate-lua"]
med_cpp, med_lua = statistics.median(cpp), statistics.median(lua)
cpu_cpp = statistics.median(r["server_cpu_us_per_req"] for r in runs if r["bench"] == "communicate-cpp")
cpu_lua = statistics.median(r["server_cpu_us_per_req"] for r in runs if r["bench"] == "communicate-lua")
print(json.dumps({"bench": "communicate-lua-cost", "rounds": len(cpp),
                  "cpp_cpu_us_median": cpu_cpp, "lua_cpu_us_median": cpu_lua,
                  "lua_cpu_extra_pct": round(100 * (cpu_lua / cpu_cpp - 1), 1),
                  "cpp_rps_median": round(med_cpp, 1), "lua_rps_median": round(med_lua, 1),
                  "lua_cost_pct_median": round(100 * (1 - med_lua / med_cpp), 1),
                  "cpp_rps_best": round(max(cpp), 1), "lua_rps_best": round(max(lua), 1),
                  "lua_cost_pct_best": round(100 * (1 - max(lua) / max(cpp)), 1)}))
PY
echo "{\"bench\":\"switchboard-rss\",\"rss_kb\":$(rss_kb "$SB_PID")}"
kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true
