#!/usr/bin/env python3
"""Large-body burst: --clients concurrent clients each POST one --size-byte JSON body, --rounds
times; prints one JSON line with the server's VmRSS before, at its sampled peak, right after
and --settle seconds after, and the status codes seen. The body is a pairing registration whose
ssh_pubkey is far over any field limit, so the server reads and parses it whole, answers 400 and
stores nothing. Exit status 0 only if every answer had the expected status.
Usage: bench/burst.py --port P --pid SERVER_PID [--path /register_server] [--expect 400]"""
import argparse
import http.client
import json
import sys
import threading
import time


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_body(size):
    """A JSON registration exactly `size` bytes long."""
    template = ('{"ssh_pubkey": "ssh-ed25519 %s", "ssh_user": "bench", "ssh_tunnel": 3522, '
                '"listen_pubkey_tunnel": 3533}')
    pad = size - len(template % "")
    if pad < 1:
        sys.exit("burst.py: --size too small")
    return (template % ("A" * pad)).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="server process whose VmRSS is read")
    ap.add_argument("--path", default="/register_server")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=4 << 20, help="body bytes (default 4 MiB)")
    ap.add_argument("--expect", type=int, default=400, help="status every answer must have")
    ap.add_argument("--settle", type=float, default=3.0)
    args = ap.parse_args()

    body = make_body(args.size)
    statuses, errors, lock = {}, {}, threading.Lock()
    peak = [0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], rss_kb(args.pid))
            time.sleep(0.02)

    def client(barrier):
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        for _ in range(args.rounds):
            barrier.wait()  # every round starts with all clients at once
            try:
                conn.request("POST", args.path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                key = str(resp.status)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                with lock:
                    statuses[key] = statuses.get(key, 0) + 1
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                with lock:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        conn.close()

    before = rss_kb(args.pid)
    sampler = threading.Thread(target=sample)
    sampler.start()
    barrier = threading.Barrier(args.clients)
    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(barrier,)) for _ in range(args.clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    sampling.set()
    sampler.join()
    right_after = rss_kb(args.pid)
    time.sleep(args.settle)
    settled = rss_kb(args.pid)
    expected = args.clients * args.rounds
    ok = statuses.get(str(args.expect), 0) == expected
    print(json.dumps({
        "bench": "large-body-burst", "clients": args.clients, "rounds": args.rounds,
        "body_bytes": len(body), "path": args.path, "seconds": round(elapsed, 3),
        "statuses": statuses, "errors": errors,
        "rss_before_kb": before, "rss_peak_kb": max(peak[0], right_after),
        "rss_after_kb": right_after, "rss_settled_kb": settled, "settle_s": args.settle,
        "settled_growth_kb": settled - before, "ok": ok,
    }, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
