#!/usr/bin/env bash
# The signaling seed's REST steps with curl (plugins/signaling + plugins/auth, seed 001): register
# and log in, create an organization (or join ORG_ID), allocate a virtual IP. Prints
# TOKEN=..., ORG_ID=... and VIRTUAL_IP=... lines for the WebSocket clients:
#   eval "$(examples/signaling_setup.sh alice@example.com password123)"
#   node examples/signaling_client.js --token "$TOKEN"
#   examples/signaling_setup.sh bob@example.com password123 "$ORG_ID"   # bob joins alice's
# Usage: signaling_setup.sh EMAIL PASSWORD [ORG_ID] [BASE_URL (default http://localhost:8000)]
set -euo pipefail
EMAIL="$1" PASSWORD="$2" ORG_ID="${3:-}" B="${4:-http://localhost:8000}"
json() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p"; }

# 201 the first time, 409 when the account exists already: both are fine here.
curl -s -o /dev/null -X POST "$B/register" -H "Content-Type: application/json" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}"
TOKEN=$(curl -sS --fail-with-body -X POST "$B/login" -H "Content-Type: application/json" \
  -d "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}" | json access_token)
AUTH="Authorization: Bearer $TOKEN"
if [ -z "$ORG_ID" ]; then
  ORG_ID=$(curl -sS --fail-with-body -X POST "$B/organizations" -H "$AUTH" \
    -H "Content-Type: application/json" -d '{"name": "My Organization", "subnet": "10.0.0.0/24"}' |
    json id)
else
  curl -sS --fail-with-body -o /dev/null -X POST "$B/organizations/$ORG_ID/join" -H "$AUTH"
fi
VIRTUAL_IP=$(curl -sS --fail-with-body -X POST "$B/organizations/$ORG_ID/allocate_ip" \
  -H "$AUTH" -H "Content-Type: application/json" -d '{}' | json virtual_ip)
echo "TOKEN=$TOKEN"
echo "ORG_ID=$ORG_ID"
echo "VIRTUAL_IP=$VIRTUAL_IP"
