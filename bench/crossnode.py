#!/usr/bin/env python3
"""Cross-node event latency: subscribes to node B's admin event stream (server.online), then
registers N servers on node A, one at a time, and measures from each registration's reply to the
event's arrival on B. Prints one JSON line. Bench helper only.
Usage: crossnode.py A_PAIRING_PORT B_ADMIN_PORT ADMIN_TOKEN COUNT"""
import http.client
import json
import socket
import sys
import threading
import time

a_port, b_admin, token, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
arrived = {}
ready = threading.Event()


def reader():
    s = socket.create_connection(("127.0.0.1", b_admin))
    s.sendall(("GET /admin/api/events?topic=server.online HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Authorization: Bearer %s\r\n\r\n" % token).encode())
    buf = b""
    ready.set()
    while len(arrived) < count:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            for line in block.split(b"\n"):
                if line.startswith(b"data: "):
                    try:
                        key = json.loads(line[6:])["ssh_pubkey"]
                    except (ValueError, KeyError):
                        continue
                    arrived.setdefault(key, time.monotonic())


t = threading.Thread(target=reader, daemon=True)
t.start()
ready.wait()
time.sleep(0.5)
conn = http.client.HTTPConnection("127.0.0.1", a_port, timeout=10)
sent = {}
for i in range(count):
    key = "ssh-ed25519 crossnode%06d" % i
    body = json.dumps({"ssh_pubkey": key, "ssh_user": "bench", "ssh_tunnel": 3522,
                       "listen_pubkey_tunnel": 3533})
    conn.request("POST", "/register_server", body)
    conn.getresponse().read()
    sent[key] = time.monotonic()
    time.sleep(0.01)
deadline = time.monotonic() + 10
while len(arrived) < count and time.monotonic() < deadline:
    time.sleep(0.05)
lat = sorted((arrived[k] - sent[k]) * 1000 for k in sent if k in arrived)
if not lat:
    sys.exit("no event arrived on node B")
pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 2)
print(json.dumps({"events": count, "arrived": len(lat), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
                  "max_ms": round(lat[-1], 2)}))
