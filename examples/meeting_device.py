#!/usr/bin/python3
"""A Meeting device in Python with requests (plugins/devices, seed 004): the Updates Manager
Tool's registration and heartbeat, against Switchboard instead of meeting.ygsoft.fr.

    examples/meeting_device.py [--url http://localhost:8000] register DEVICE_KEY TOKEN_CODE
    examples/meeting_device.py [--url ...] heartbeat [--count N] [--interval 60]
    examples/meeting_device.py [--url ...] info

An administrator creates the device and its one-time token first (admin listener):
    curl -s -XPOST -H "Authorization: Bearer $(cat var/admin-token)" \\
      localhost:9000/admin/api/devices -d '{"device_key": "meeting-room-4"}'
`register` burns the token, publishes an SSH key and stores the device key in --state (the
tool keeps it in ~/.updates-manager-tool/device_info.json); `heartbeat` posts the collected
device info every --interval seconds, stopping after 5 consecutive failures as the tool does.
Needs python3-requests (Debian).
"""
import argparse
import json
import os
import socket
import sys
import time
import uuid

import requests

STATE = os.path.expanduser("~/.updates-manager-tool/device_info.json")


class ApiClient:
    def __init__(self, base_url, timeout=20):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _json(self, r):
        try:
            return r.json()
        except ValueError:
            return {"ok": False, "message": f"HTTP {r.status_code}"}

    def register_device(self, device_key, token_code, device_info):
        r = self.session.post(f"{self.base_url}/api/devices/{device_key}/register",
                              json={"token_code": token_code.upper(),
                                    "device_info": device_info}, timeout=self.timeout)
        return r.status_code, self._json(r)

    def send_heartbeat(self, device_key, heartbeat_data):
        r = self.session.post(f"{self.base_url}/api/devices/{device_key}/online",
                              json=heartbeat_data, timeout=self.timeout)
        return r.status_code, self._json(r)

    def get_ssh_hostkey(self):
        r = self.session.get(f"{self.base_url}/api/ssh-hostkey", timeout=self.timeout)
        r.raise_for_status()
        return r.text.strip()

    def publish_ssh_key(self, device_key, pubkey):
        r = self.session.put(f"{self.base_url}/api/devices/{device_key}/ssh-key",
                             json={"pubkey": pubkey}, timeout=self.timeout)
        return r.status_code, self._json(r)

    def get_device_info(self, device_key):
        r = self.session.get(f"{self.base_url}/api/devices/{device_key}", timeout=self.timeout)
        return r.status_code, self._json(r)


def collect_device_info():
    """ip_address is left out: the server uses the peer address (REMOTE_ADDR) then."""
    info = {"note": "Updates Manager Tool"}
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the LAN address
            info["ip_lan"] = s.getsockname()[0]
    except OSError:
        pass
    node = uuid.getnode()
    info["mac"] = ":".join(f"{(node >> s) & 0xff:02X}" for s in range(40, -1, -8))
    return info


def load_state(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit(f"not registered: {path} does not exist (run register first)")


def register(client, a):
    info = collect_device_info()
    code, reply = client.register_device(a.device_key, a.token_code, info)
    print(f"register: {code} {json.dumps(reply)}")
    if not reply.get("ok"):
        return 1
    # A demonstration key: a real device publishes its own ~/.ssh/id_ed25519.pub.
    pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMeetingDeviceExampleKey0123456789abcdefghij"
    print("ssh-hostkey:", client.get_ssh_hostkey())
    code, reply = client.publish_ssh_key(a.device_key, pubkey)
    print(f"ssh-key: {code} {json.dumps(reply)}")
    os.makedirs(os.path.dirname(os.path.abspath(a.state)), exist_ok=True)
    with open(a.state, "w") as f:
        json.dump({"device_key": a.device_key, "device_info": info,
                   "registered_at": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=2)
    return 0


def heartbeat(client, a):
    state = load_state(a.state)
    failures = 0
    for i in range(a.count):
        if i:
            time.sleep(a.interval)
        try:
            code, reply = client.send_heartbeat(state["device_key"], collect_device_info())
            print(f"heartbeat: {code} {json.dumps(reply)}")
            failures = 0 if reply.get("ok") else failures + 1
        except requests.RequestException as e:
            print(f"heartbeat failed: {e}")
            failures += 1
        if failures >= 5:
            print("5 consecutive failures: heartbeat stopped")
            return 1
    return 0 if failures == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default=os.environ.get("MEETING_SERVER_URL", "http://localhost:8000"))
    p.add_argument("--state", default=STATE)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("register")
    r.add_argument("device_key")
    r.add_argument("token_code")
    h = sub.add_parser("heartbeat")
    h.add_argument("--count", type=int, default=sys.maxsize)
    h.add_argument("--interval", type=float, default=60.0)
    sub.add_parser("info")
    a = p.parse_args()
    client = ApiClient(a.url)
    if a.command == "register":
        return register(client, a)
    if a.command == "heartbeat":
        return heartbeat(client, a)
    code, reply = client.get_device_info(load_state(a.state)["device_key"])
    print(f"info: {code} {json.dumps(reply, sort_keys=True)}")
    return 0 if code == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
