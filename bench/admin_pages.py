#!/usr/bin/env python3
"""Admin list paging at scale: writes COUNT devices straight into the devices plugin's tables of
a stopped switchboard's SQLite file (the schema its migrations made), so that the next start
loads them; or, with "measure", times pages of GET /admin/api/devices against a running one.
Bench helper only.

Usage: admin_pages.py fill DATABASE COUNT
       admin_pages.py measure ADMIN_PORT ADMIN_TOKEN [ROUNDS]"""
import http.client
import sqlite3
import statistics
import sys
import time


def fill(database, count):
    db = sqlite3.connect(database)
    now = time.time()
    rows = [(n, "bench-%06d" % n, "room %d" % n, now, None, None, 1, now, 0,
             '{"ip_lan":"10.0.0.1"}', None) for n in range(1, count + 1)]
    db.executemany("INSERT INTO devices (id, device_key, note, created_at, token_hash,"
                   " token_expires_at, registered, registered_at, revoked, device_info,"
                   " ssh_pubkey) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO device_seen (id, registered_at, last_seen) VALUES (?,?,?)",
                   [(n, now, now) for n in range(1, count + 1)])
    db.commit()


def measure(port, token, rounds):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    auth = {"Authorization": "Bearer " + token}
    for query in ["limit=100", "limit=100&offset=50000", "limit=100&offset=99900",
                  "limit=1000&offset=99000", "limit=100&q=bench-0999",
                  "limit=100&q=room%2077777", "limit=100&q=no-such-device"]:
        times = []
        size = 0
        total = None
        for _ in range(rounds):
            start = time.perf_counter()
            conn.request("GET", "/admin/api/devices?" + query, headers=auth)
            resp = conn.getresponse()
            body = resp.read()
            times.append((time.perf_counter() - start) * 1000)
            assert resp.status == 200, body[:200]
            size = len(body)
            total = body[body.rfind(b'"total":'):].split(b",")[0]
        times.sort()
        print("%-28s median %6.2f ms  p95 %6.2f ms  %8d bytes  %s" %
              (query, statistics.median(times), times[int(len(times) * 0.95) - 1], size,
               total.decode()))


if __name__ == "__main__":
    if sys.argv[1] == "fill":
        fill(sys.argv[2], int(sys.argv[3]))
    else:
        measure(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 50)
