#!/usr/bin/env python3
"""Enrols and registers COUNT Meeting devices the way an operator and the devices would: for each
key bench-NNNNNN, POST /admin/api/devices (admin listener) for a token, then
POST /api/devices/<key>/register with it (public listener). Keep-alive connections, WORKERS
processes in parallel. Writes the keys, one per line, to KEYS_FILE. Bench helper only.

Usage: enrol_devices.py ADMIN_PORT PUBLIC_PORT ADMIN_TOKEN COUNT KEYS_FILE [WORKERS]"""
import http.client
import json
import multiprocessing
import sys
import time


def device_info(n):
    """What device n (1-based) reports: the same fields bench/wrk/device-heartbeat.lua sends for
    it, as the Meeting client sends the same collected info at registration and in heartbeats."""
    a, b, c = (n >> 16) & 255, (n >> 8) & 255, n & 255
    return {"ip_lan": "10.%d.%d.%d" % (a, b, c), "ip_public": "203.0.113.%d" % (n % 250 + 1),
            "mac": "00:1A:2B:%02X:%02X:%02X" % (a, b, c), "note": "Updates Manager Tool"}


class Client:
    """One keep-alive connection that reconnects once when the server has closed it (an idle
    keep-alive timeout while the machine is busy)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path, body, headers):
        for attempt in (1, 2):
            try:
                self.conn.request("POST", path, json.dumps(body), headers)
                resp = self.conn.getresponse()
                return resp.status, json.loads(resp.read()), attempt
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise


def work(args):
    admin_port, public_port, token, first, last = args
    admin, public = Client(admin_port), Client(public_port)
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    plain = {"Content-Type": "application/json"}
    for i in range(first, last):
        key = "bench-%06d" % i
        status, data, attempt = admin.post("/admin/api/devices", {"device_key": key}, auth)
        if status == 409 and attempt == 2:  # the first try went through: take a new token
            status, data, _ = admin.post("/admin/api/devices/%s/token" % key, {}, auth)
            status = 201 if status == 200 else status
        if status != 201:
            return "enrol %s: %d %s" % (key, status, data)
        body = {"token_code": data["token_code"].lower(), "device_info": device_info(i + 1)}
        status, data, attempt = public.post("/api/devices/%s/register" % key, body, plain)
        if not (status == 200 or (status == 409 and attempt == 2)):
            return "register %s: %d %s" % (key, status, data)
    return None


def main():
    admin_port, public_port, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    count, keys_file = int(sys.argv[4]), sys.argv[5]
    workers = int(sys.argv[6]) if len(sys.argv) > 6 else 2
    step = (count + workers - 1) // workers
    slices = [(admin_port, public_port, token, w * step, min(count, (w + 1) * step))
              for w in range(workers)]
    start = time.time()
    with multiprocessing.Pool(workers) as pool:
        for error in pool.map(work, slices):
            if error:
                sys.exit(error)
    seconds = time.time() - start
    with open(keys_file, "w") as out:
        for i in range(count):
            out.write("bench-%06d\n" % i)
    print(json.dumps({"bench": "devices-enrol", "devices": count, "seconds": round(seconds, 1),
                      "requests_per_s": round(2 * count / seconds)}))


if __name__ == "__main__":
    main()
