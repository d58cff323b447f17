#!/usr/bin/env bash
# The ServerAPI seed's session with curl and a cookie jar (plugins/auth, seed 002): /login sets
# the sessionToken cookie, /communicate sends JSON to the on_communicate Lua hook (the seed's
# request_callback; plugins/auth/hooks/on_communicate.lua answers {"action": "echo"}), /logout
# ends the session, after which /communicate is refused.
#   examples/serverapi_session.sh USERNAME PASSWORD [BASE_URL (default http://localhost:8000)]
# The account is a static one (auth.credentials) or registered with POST /register.
set -euo pipefail
USERNAME="$1" PASSWORD="$2" B="${3:-http://localhost:8000}"
JAR=$(mktemp)
trap 'rm -f "$JAR"' EXIT

echo "login:"
curl -sS --fail-with-body -c "$JAR" -X POST "$B/login" -H "Content-Type: application/json" \
  -d "{\"username\": \"$USERNAME\", \"password\": \"$PASSWORD\"}"
echo
echo "communicate:"
curl -sS --fail-with-body -b "$JAR" -X POST "$B/communicate" -H "Content-Type: application/json" \
  -d '{"action": "echo", "message": "hello from curl"}'
echo
echo "logout:"
curl -sS --fail-with-body -b "$JAR" -c "$JAR" -X POST "$B/logout"
echo
echo "communicate after logout:"
curl -sS -w ' (HTTP %{http_code})' -b "$JAR" -X POST "$B/communicate" \
  -H "Content-Type: application/json" -d '{"action": "echo", "message": "still there?"}'
echo
