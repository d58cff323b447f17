#!/usr/bin/env python3
"""Idle-connection memory: opens N plain TCP connections to a listener and leaves them idle,
either "fresh" (nothing sent) or after one complete keep-alive request each (--request), then
waits --settle seconds and prints one JSON line with the server's VmRSS growth per connection.
Exit status 0 only if every connection opened (and was answered) and is still open at the end.
Usage: bench/idle.py --port P --pid SERVER_PID [--connections 10000] [--request PATH BODY]
                     [--hold SECONDS]"""
import argparse
import errno
import json
import os
import resource
import selectors
import socket
import sys
import time

IN_FLIGHT = 256  # connects pending at once: a 10,000-SYN burst would overflow the accept queue


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def open_connections(port, count, deadline):
    """Non-blocking connects, at most IN_FLIGHT pending; returns the connected sockets."""
    sel = selectors.DefaultSelector()
    connected, started, pending, failures = [], 0, 0, {}
    while (started < count or pending) and time.monotonic() < deadline:
        while started < count and pending < IN_FLIGHT:
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            started += 1
            if err in (0, errno.EINPROGRESS):
                sel.register(s, selectors.EVENT_WRITE)
                pending += 1
            else:
                failures[os.strerror(err)] = failures.get(os.strerror(err), 0) + 1
                s.close()
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                connected.append(s)
            else:
                failures[os.strerror(err)] = failures.get(os.strerror(err), 0) + 1
                s.close()
    for key in list(sel.get_map().values()):
        key.fileobj.close()
        failures["connect timed out"] = failures.get("connect timed out", 0) + 1
    sel.close()
    return connected, failures


def request_once(conns, path, body, deadline):
    """Sends one keep-alive POST on every connection and reads each response whole (by its
    Content-Length); returns how many got a complete 200."""
    data = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n%s" % (path, len(body), body)).encode()
    sel = selectors.DefaultSelector()
    for s in conns:
        s.send(data)  # a few hundred bytes always fit in an empty send buffer
        sel.register(s, selectors.EVENT_READ, bytearray())
    answered = 0
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s, buf = key.fileobj, key.data
            try:
                chunk = s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(s)
                continue
            buf += chunk
            head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
            if not sep:
                continue
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) >= length:
                sel.unregister(s)
                if head.split(b" ", 2)[1:2] == [b"200"]:
                    answered += 1
    sel.close()
    return answered


def still_open(conns):
    """Connections the server has not closed (no EOF, no reset, nothing unexpected to read)."""
    count = 0
    for s in conns:
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                continue  # EOF: closed by the server
        except BlockingIOError:
            count += 1
        except OSError:
            pass
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="server process whose VmRSS is read")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--request", nargs=2, metavar=("PATH", "BODY"),
                    help="send one POST PATH with BODY on each connection before idling")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds idle before measuring")
    ap.add_argument("--timeout", type=float, default=30.0, help="limit for connects + requests")
    ap.add_argument("--name", default=None, help='"bench" value of the JSON line')
    ap.add_argument("--hold", type=float, default=0.0,
                    help="keep the connections this many seconds after printing (or until "
                         "killed): idle load held while another client measures")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 64), hard))

    fds = lambda: len(os.listdir("/proc/%d/fd" % args.pid))
    rss_before, fds_before = status_kb(args.pid, "VmRSS"), fds()
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    conns, failures = open_connections(args.port, args.connections, deadline)
    connect_s = time.monotonic() - started
    answered = None
    if args.request:
        answered = request_once(conns, args.request[0], args.request[1], deadline)
    time.sleep(args.settle)
    rss_after = status_kb(args.pid, "VmRSS")
    open_after = still_open(conns)
    result = {
        "bench": args.name or ("idle-after-request" if args.request else "idle-fresh"),
        "connections": args.connections,
        "opened": len(conns),
        "connect_s": round(connect_s, 3),
        "answered": answered,
        "open_after": open_after,
        "server_fds_added": fds() - fds_before,
        "server_threads": status_kb(args.pid, "Threads"),
        "rss_before_kb": rss_before,
        "rss_after_kb": rss_after,
        "bytes_per_connection": round((rss_after - rss_before) * 1024 / args.connections),
        # The same over the connections the server still holds (differs when it dropped some).
        "bytes_per_open_connection": round((rss_after - rss_before) * 1024 / max(open_after, 1)),
        "connect_failures": failures,
    }
    if args.request is None:
        del result["answered"]
    ok = result["open_after"] == args.connections and answered in (None, args.connections)
    result["ok"] = ok
    print(json.dumps(result, separators=(",", ":")), flush=True)
    time.sleep(args.hold)
    for s in conns:
        s.close()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
