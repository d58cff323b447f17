#!/usr/bin/python3
"""TunneLink pairing in Python with requests (plugins/pairing, seed 000).

    examples/pairing_client.py [--url http://localhost:3555] server   # register, heartbeat
    examples/pairing_client.py [--url ...] client CODE                # resolve a pairing code

`server` registers this machine's (example) SSH key, prints the pairing code and sends
--heartbeats heartbeats --interval seconds apart (the TunneLink server sends one a minute);
`client` prints the SSH details behind a code. Needs python3-requests (Debian).
"""
import argparse
import sys
import time

import requests


def register(url, pubkey, user, tunnel, listen_tunnel):
    r = requests.post(f"{url}/register_server", json={
        "ssh_pubkey": pubkey, "ssh_user": user,
        "ssh_tunnel": tunnel, "listen_pubkey_tunnel": listen_tunnel}, timeout=10)
    r.raise_for_status()
    return r.json()["pairing_code"]


def heartbeat(url, pubkey):
    r = requests.post(f"{url}/server_status",
                      json={"ssh_pubkey": pubkey, "action": "heartbeat"}, timeout=10)
    if r.status_code == 409:  # offline: the seed's rule is to register again
        raise RuntimeError(r.json()["error"])
    r.raise_for_status()
    return r.json()


def status(url, pubkey):
    r = requests.post(f"{url}/server_status",
                      json={"ssh_pubkey": pubkey, "action": "get_server_status"}, timeout=10)
    r.raise_for_status()
    return r.json()


def details(url, code):
    r = requests.post(f"{url}/get_server_details", json={"pairing_code": code}, timeout=10)
    if r.status_code == 404:
        raise SystemExit(f"pairing code {code}: {r.json()['error']}")
    r.raise_for_status()
    return r.json()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="http://localhost:3555")
    p.add_argument("--pubkey", default="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPythonExample"
                                       " tunnel@example")
    p.add_argument("--heartbeats", type=int, default=1)
    p.add_argument("--interval", type=float, default=60.0)
    p.add_argument("command", choices=["server", "client"])
    p.add_argument("code", nargs="?", type=int)
    a = p.parse_args()
    if a.command == "client":
        if a.code is None:
            p.error("client needs a pairing CODE")
        print("details:", details(a.url, a.code))
        return 0
    code = register(a.url, a.pubkey, "tunnel", 3522, 3533)
    print("pairing_code:", code)
    for i in range(a.heartbeats):
        if i:
            time.sleep(a.interval)
        beat = heartbeat(a.url, a.pubkey)
        print("heartbeat: online=%s last_heartbeat=%.3f" % (beat["online"],
                                                           beat["last_heartbeat"]))
    print("status:", status(a.url, a.pubkey))
    print("details:", details(a.url, code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
