#!/usr/bin/env python3
"""The soak's mixed HTTP load (scripts/soak), each kind at a fixed rate on its own thread with a
keep-alive connection, for SECONDS. The set of objects stays the same (the same pairing keys
re-registered, the same devices, the same accounts logging in and out) so that a server with
flat memory shows flat memory:

- pairing: a server re-registers (a fresh code, the old one released), heartbeats and a look-up
  of its code, over SERVERS keys;
- devices: heartbeats of DEVICES enrolled devices, and a new registration token burned by a
  re-registration now and then;
- auth: login, GET /me, logout of ACCOUNTS accounts.

Prints one JSON line at the end: requests and failures per kind (a failure is any status but
the expected one, or a broken connection). Bench helper only.

Usage: soak_load.py PAIRING_PORT PUBLIC_PORT ADMIN_PORT ADMIN_TOKEN SECONDS [RATE_PER_KIND]"""
import http.client
import json
import sys
import threading
import time

SERVERS, DEVICES, ACCOUNTS = 200, 200, 20
PASSWORD = "soak-password-1"


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body, headers)
                resp = self.conn.getresponse()
                data = resp.read()
                cookie = resp.getheader("Set-Cookie") or ""
                try:
                    parsed = json.loads(data) if data else {}
                except ValueError:
                    parsed = {}
                return resp.status, parsed, cookie
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    return 0, {}, ""


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, kind, ok, detail=""):
        with self.lock:
            c = self.counts.setdefault(kind, {"requests": 0, "failed": 0, "first_failure": ""})
            c["requests"] += 1
            if not ok:
                c["failed"] += 1
                c["first_failure"] = c["first_failure"] or detail


def paced(rate, deadline, step):
    """Calls step(i) `rate` times a second until the deadline, on schedule."""
    interval = 1.0 / rate
    start = time.monotonic()
    i = 0
    while time.monotonic() < deadline:
        step(i)
        i += 1
        delay = start + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def pairing(port, counter, rate, deadline):
    c = Client(port)
    codes = {}

    def step(i):
        key = "ssh-ed25519 soak-%04d" % (i % SERVERS)
        server = {"ssh_pubkey": key, "ssh_user": "tunnel", "ssh_tunnel": 3522,
                  "listen_pubkey_tunnel": 3533}
        if i % 10 == 0 or key not in codes:
            status, data, _ = c.call("POST", "/register_server", server)
            counter.add("pairing.register", status == 200, "%d %s" % (status, data))
            if status == 200:
                codes[key] = data.get("pairing_code")
        elif i % 3 == 0:
            status, data, _ = c.call("POST", "/get_server_details", {"pairing_code": codes[key]})
            counter.add("pairing.lookup", status == 200 and data.get("ssh_pubkey") == key,
                        "%d %s" % (status, data))
        else:
            status, data, _ = c.call("POST", "/server_status",
                                     {"ssh_pubkey": key, "action": "heartbeat"})
            counter.add("pairing.heartbeat", status == 200, "%d %s" % (status, data))

    paced(rate, deadline, step)


def devices(public_port, admin_port, token, counter, rate, deadline):
    pub, admin = Client(public_port), Client(admin_port)
    auth = {"Authorization": "Bearer " + token}
    registered = set()

    def register(key):
        status, data, _ = admin.call("POST", "/admin/api/devices", {"device_key": key}, auth)
        if status == 409:  # enrolled already: a fresh token for a re-registration
            status, data, _ = admin.call("POST", "/admin/api/devices/%s/token" % key, {}, auth)
            status = 201 if status == 200 else status
        counter.add("devices.token", status == 201, "%d %s" % (status, data))
        if status != 201:
            return
        status, data, _ = pub.call("POST", "/api/devices/%s/register" % key,
                                   {"token_code": data["token_code"].lower(),
                                    "device_info": {"ip_lan": "10.0.0.1", "note": "soak"}})
        counter.add("devices.register", status == 200, "%d %s" % (status, data))
        if status == 200:
            registered.add(key)

    def step(i):
        key = "soak-%06d" % (i % DEVICES)
        if key not in registered or i % 50 == 0:
            register(key)
            return
        status, data, _ = pub.call("POST", "/api/devices/%s/online" % key,
                                   {"ip_lan": "10.0.0.%d" % (i % 250 + 1), "note": "soak"})
        counter.add("devices.heartbeat", status == 200, "%d %s" % (status, data))

    paced(rate, deadline, step)


def accounts(port, counter, rate, deadline):
    c = Client(port)
    for n in range(ACCOUNTS):
        status, data, _ = c.call("POST", "/register", {"email": "soakweb%d@example.com" % n,
                                                       "password": PASSWORD,
                                                       "username": "soakweb%d" % n})
        counter.add("auth.register", status in (201, 409), "%d %s" % (status, data))

    def step(i):
        n = i % ACCOUNTS
        status, data, cookie = c.call("POST", "/login", {"email": "soakweb%d@example.com" % n,
                                                         "password": PASSWORD})
        ok = status == 200 and "access_token" in data
        counter.add("auth.login", ok, "%d %s" % (status, data))
        if not ok:
            return
        bearer = {"Authorization": "Bearer " + data["access_token"]}
        status, data, _ = c.call("GET", "/me", None, bearer)
        counter.add("auth.me", status == 200, "%d %s" % (status, data))
        status, data, _ = c.call("POST", "/logout", {}, bearer)
        counter.add("auth.logout", status == 200, "%d %s" % (status, data))

    paced(rate, deadline, step)


def main():
    if len(sys.argv) < 6:
        raise SystemExit(__doc__)
    pairing_port, public_port, admin_port = map(int, sys.argv[1:4])
    token, seconds = sys.argv[4], float(sys.argv[5])
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 50
    deadline = time.monotonic() + seconds
    counter = Counter()
    threads = [
        threading.Thread(target=pairing, args=(pairing_port, counter, rate, deadline)),
        threading.Thread(target=devices,
                         args=(public_port, admin_port, token, counter, rate, deadline)),
        threading.Thread(target=accounts, args=(public_port, counter, rate / 5, deadline)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"soak_load": counter.counts}))


if __name__ == "__main__":
    main()
