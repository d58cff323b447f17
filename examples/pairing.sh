#!/usr/bin/env bash
# TunneLink pairing with curl (plugins/pairing, seed 000): a server registers and gets a 4-digit
# pairing code, sends a heartbeat, asks for its status; a client resolves the code.
#   examples/pairing.sh [BASE_URL]        (default http://localhost:3555)
set -euo pipefail
B="${1:-http://localhost:3555}"
KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOfTheTunneLinkServer$$ server@example"

echo "register_server:"
reply=$(curl -sS --fail-with-body -X POST "$B/register_server" -H 'Content-Type: application/json' \
  -d "{\"ssh_pubkey\": \"$KEY\", \"ssh_user\": \"tunnel\", \"ssh_tunnel\": 3522,
       \"listen_pubkey_tunnel\": 3533}")
echo "$reply"
code=$(echo "$reply" | sed -n 's/.*"pairing_code": *\([0-9]*\).*/\1/p')

echo "heartbeat:"
curl -sS --fail-with-body -X POST "$B/server_status" -H 'Content-Type: application/json' \
  -d "{\"ssh_pubkey\": \"$KEY\", \"action\": \"heartbeat\"}"
echo
echo "get_server_status:"
curl -sS --fail-with-body -X POST "$B/server_status" -H 'Content-Type: application/json' \
  -d "{\"ssh_pubkey\": \"$KEY\", \"action\": \"get_server_status\"}"
echo
echo "get_server_details for $code:"
curl -sS --fail-with-body -X POST "$B/get_server_details" -H 'Content-Type: application/json' \
  -d "{\"pairing_code\": $code}"
echo
