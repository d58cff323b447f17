#!/usr/bin/env python3
"""A small client of Switchboard's chat protocol (plugins/messaging), standard library only.

    examples/chat_client.py [--host localhost] [--port 7777] register LOGIN PASSWORD EMAIL
    examples/chat_client.py login LOGIN PASSWORD          # prints SES, LIS, waiting messages
    examples/chat_client.py send LOGIN PASSWORD TO TEXT   # one MSG, waits for its ACK
    examples/chat_client.py history LOGIN PASSWORD WITH   # UPD -> HIS
    examples/chat_client.py listen LOGIN PASSWORD         # prints every frame until Ctrl-C

Frames: 1 byte (version 01 in the top two bits, type in the low six), 2 bytes big-endian
payload length, then a UTF-8 JSON object. The default config's development certificate is
self-signed, so this client does not verify it (pass --cafile var/tls/cert.pem to verify).
"""
import argparse
import json
import socket
import ssl
import struct
import sys

TYPES = ["ACK", "ERR", "DIS", "MSG", "LOG", "SES", "REG",
         "LIS", "FRP", "HIS", "UPD", "CHP", "CHM", "DEL"]


class ChatClient:
    def __init__(self, host, port, cafile=None):
        context = ssl.create_default_context(cafile=cafile)
        if cafile is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(socket.create_connection((host, port)),
                                        server_hostname=host)

    def send(self, kind, payload=None):
        data = json.dumps(payload or {}).encode("utf-8")
        header = struct.pack(">BH", (1 << 6) | TYPES.index(kind), len(data))
        self.sock.sendall(header + data)

    def _read_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("server closed the connection")
            data += chunk
        return data

    def read(self):
        first, length = struct.unpack(">BH", self._read_exactly(3))
        payload = self._read_exactly(length)
        kind = TYPES[first & 0x3F] if (first & 0x3F) < len(TYPES) else str(first & 0x3F)
        return kind, json.loads(payload) if payload else {}

    def login(self, login, password):
        self.send("LOG", {"login": login, "password": password})
        kind, body = self.read()
        if kind != "SES":
            raise SystemExit(f"login failed: {kind} {body}")
        users = []
        while True:  # LIS may span several frames ("more": true on all but the last)
            kind, body = self.read()
            users += body.get("users", [])
            if "next" in body:  # a big directory: ask for the rest
                self.send("LIS", {"offset": body["next"]})
            elif not body.get("more"):
                return users


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--host", default="localhost")
    p.add_argument("--port", type=int, default=7777)
    p.add_argument("--cafile")
    p.add_argument("command", choices=["register", "login", "send", "history", "listen"])
    p.add_argument("args", nargs="*")
    a = p.parse_args()
    c = ChatClient(a.host, a.port, a.cafile)
    if a.command == "register":
        login, password, email = a.args
        c.send("REG", {"login": login, "password": password, "email": email})
        print(*c.read())
        return
    login, password, *rest = a.args
    users = c.login(login, password)
    print("users:", ", ".join(users))
    if a.command == "send":
        to, text = rest
        c.send("MSG", {"reciever": to, "msg": text})
    elif a.command == "history":
        c.send("UPD", {"reciever": rest[0]})
    c.sock.settimeout(None if a.command == "listen" else 1.0)
    try:
        while True:
            kind, body = c.read()
            print(kind, json.dumps(body, ensure_ascii=False))
            if kind in ("ACK", "ERR") and a.command == "send":
                break
            if kind == "HIS" and not body.get("more"):
                break
    except (socket.timeout, TimeoutError):
        pass
    except KeyboardInterrupt:
        pass
    c.send("DIS")


if __name__ == "__main__":
    sys.exit(main())
