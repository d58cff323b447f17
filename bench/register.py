#!/usr/bin/env python3
"""Registers N TunneLink servers on a pairing listener (one keep-alive connection) and writes
their ssh_pubkeys, one per line, to a file; prints the first pairing code. Bench helper only."""
import http.client
import json
import sys

port, count, keys_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
first_code = None
with open(keys_file, "w") as out:
    for i in range(count):
        key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchKey%06d bench@host" % i
        body = json.dumps({"ssh_pubkey": key, "ssh_user": "bench", "ssh_tunnel": 3522,
                           "listen_pubkey_tunnel": 3533})
        conn.request("POST", "/register_server", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            sys.exit("registration %d failed: %d %s" % (i, resp.status, data))
        if first_code is None:
            first_code = data["pairing_code"]
        out.write(key + "\n")
print(first_code)
