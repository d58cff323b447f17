#!/usr/bin/env bash
# Auth benchmarks: POST /login (bounded by Argon2id) and POST /communicate with an echo Lua hook,
# compared with the same route answered by C++ (/_bench/communicate, mounted by the bench-only
# option plugins.auth.benchmark_route; identical up to the hook call). Prints one JSON line per
# run plus the Lua cost. Usage: bench/run-auth.sh [build-dir] (default build/release).
# Environment: DURATION (10s), HASH_MEMORY (19MiB), HASH_PASSES (2), LOGIN_CONNECTIONS (16),
# USERS (64). Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build/release}"
DURATION="${DURATION:-10s}"
HASH_MEMORY="${HASH_MEMORY:-19MiB}"
HASH_PASSES="${HASH_PASSES:-2}"
LOGIN_CONNECTIONS="${LOGIN_CONNECTIONS:-16}"
USERS="${USERS:-64}"
PASSWORD="bench-password-1"
WORK="$(mktemp -d /tmp/sb-bench-auth.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; return 1; }
run_wrk() { # name connections url script [env...]
  local name="$1" conns="$2" url="$3" script="$4"; shift 4
  echo "# $name: wrk -t2 -c$conns -d$DURATION $url" >&2
  env "$@" wrk -t2 -c"$conns" -d"$DURATION" --latency -s "bench/wrk/$script" "$url" \
    | grep '^{"wrk"' | sed "s/^{/{\"bench\":\"$name\",/"
}

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg); date: $(date -u +%F)" >&2

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
run_wrk login "$LOGIN_CONNECTIONS" "http://127.0.0.1:$PUB_PORT/login" login.lua \
  WRK_USERS_FILE="$WORK/users.txt" WRK_PASSWORD="$PASSWORD"

COOKIE=$(curl -s -D - -o /dev/null -XPOST "http://127.0.0.1:$PUB_PORT/login" \
  -d "{\"username\":\"bench-user-1\",\"password\":\"$PASSWORD\"}" \
  | sed -n 's/^Set-Cookie: sessionToken=\([0-9a-f]*\);.*/\1/p' | tr -d '\r')
[ -n "$COOKIE" ] || { echo "login for the communicate runs failed" >&2; exit 1; }
BODY='{"action":"echo","message":"hello"}'
# Same session, same body; C++ first, then Lua, then C++ again (drift check).
CPP1=$(run_wrk communicate-cpp 64 "http://127.0.0.1:$PUB_PORT/_bench/communicate" communicate.lua \
  WRK_BODY="$BODY" WRK_COOKIE="$COOKIE")
echo "$CPP1"
LUA=$(run_wrk communicate-lua 64 "http://127.0.0.1:$PUB_PORT/communicate" communicate.lua \
  WRK_BODY="$BODY" WRK_COOKIE="$COOKIE")
echo "$LUA"
CPP2=$(run_wrk communicate-cpp 64 "http://127.0.0.1:$PUB_PORT/_bench/communicate" communicate.lua \
  WRK_BODY="$BODY" WRK_COOKIE="$COOKIE")
echo "$CPP2"
python3 - "$CPP1" "$LUA" "$CPP2" <<'PY'
import json, sys
cpp1, lua, cpp2 = (json.loads(a)["rps"] for a in sys.argv[1:])
cpp = (cpp1 + cpp2) / 2
print(json.dumps({"bench": "communicate-lua-cost", "cpp_rps": round(cpp, 1),
                  "lua_rps": round(lua, 1), "lua_cost_pct": round(100 * (1 - lua / cpp), 1)}))
PY
echo "{\"bench\":\"switchboard-rss\",\"rss_kb\":$(awk '/VmRSS/ {print $2}' /proc/$SB_PID/status)}"
kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true
