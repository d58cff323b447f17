#!/usr/bin/env python3
"""Creates the accounts, organizations and addresses the signaling benchmark registers agents
with, through the public REST API (auth and signaling plugins), and writes the agents files
sb-sigload reads: one line per agent, "ORGANIZATION_ID JWT".

- USERS accounts bench-u<i>@example.com (POST /register, POST /login); 0: max(PER_ORG,
  FANOUT + 1).
- ORGS organizations of PER_ORG members for the hold and relay runs, all on 10.0.0.0/24 (or the
  smallest block holding PER_ORG hosts): each organization is its own address space, so the
  same subnet everywhere also checks that presence never crosses organizations. Organization o
  has users (o * PER_ORG + k) % USERS, k < PER_ORG: the first creates it, the others join, each
  allocates its address (ORGS creates, ORGS * (PER_ORG - 1) joins, ORGS * PER_ORG allocations);
  each user is in about ORGS * PER_ORG / USERS organizations.
  -> OUT_DIR/agents-hold.txt, ORGS * PER_ORG lines, organization by organization.
- ceil(2 * RELAY_PAIRS / PER_ORG) more organizations like those, for the relay run (pairs of
  consecutive lines): -> OUT_DIR/agents-relay.txt.
- One organization of FANOUT + 1 members (subnet sized for them) for the fan-out run.
  -> OUT_DIR/agents-fanout.txt, FANOUT + 1 lines.
Keep-alive connections, PROCESSES processes x THREADS threads. Bench helper only.

Usage: signaling_setup.py PORT OUT_DIR ORGS PER_ORG FANOUT RELAY_PAIRS USERS [PROCESSES [THREADS]]"""
import http.client
import json
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "bench-password-1"
_local = threading.local()


def conn(port):
    c = getattr(_local, "conn", None)
    if c is None:
        c = _local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    return c


def post(port, path, body, token=None):
    """POST JSON on this thread's keep-alive connection (one reconnect when the server closed
    it); returns (status, parsed body, attempt)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    for attempt in (1, 2):
        try:
            c = conn(port)
            c.request("POST", path, json.dumps(body), headers)
            resp = c.getresponse()
            data = resp.read()
            try:
                parsed = json.loads(data) if data else {}
            except ValueError:
                parsed = {"raw": data[:200].decode("utf-8", "replace")}
            return resp.status, parsed, attempt
        except (ConnectionError, http.client.HTTPException, TimeoutError):
            _local.conn.close()
            _local.conn = None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def account(args):
    port, i = args
    email = "bench-u%d@example.com" % i
    status, data, _ = post(port, "/register",
                           {"email": email, "password": PASSWORD, "username": "benchu%d" % i})
    if status not in (201, 409):  # 409: there from an earlier run or a retried request
        raise SystemExit("register %s: %d %s" % (email, status, data))
    status, data, _ = post(port, "/login", {"email": email, "password": PASSWORD})
    if status != 200 or "access_token" not in data:
        raise SystemExit("login %s: %d %s" % (email, status, data))
    return data["access_token"]


def subnet_for(hosts):
    prefix = 30
    while (1 << (32 - prefix)) - 2 < hosts:
        prefix -= 1
    return "10.0.0.0/%d" % prefix


def organization(port, name, subnet, tokens, members):
    """Creates one organization (creator: members[0]), joins and allocates for every member;
    returns (organization id, requests made)."""
    creator = tokens[members[0]]
    status, data, _ = post(port, "/organizations", {"name": name, "subnet": subnet}, creator)
    if status not in (200, 201) or "id" not in data:
        raise SystemExit("create %s: %d %s" % (name, status, data))
    org = data["id"]
    requests = 1
    for m in members[1:]:
        status, data, attempt = post(port, "/organizations/%s/join" % org, {}, tokens[m])
        requests += 1
        # A retried join may find the first attempt done.
        if status not in (200, 201) and not (attempt == 2 and status == 409):
            raise SystemExit("join %s as user %d: %d %s" % (org, m, status, data))
    for m in members:
        status, data, _ = post(port, "/organizations/%s/allocate_ip" % org, {}, tokens[m])
        requests += 1
        if status not in (200, 201) or "virtual_ip" not in data:
            raise SystemExit("allocate_ip in %s as user %d: %d %s" % (org, m, status, data))
    return org, requests


def members_of(o, per_org, users):
    return [(o * per_org + k) % users for k in range(per_org)]


def org_slice(args):
    port, tokens, first, last, per_org, threads = args
    subnet = subnet_for(per_org)

    def one(o):
        members = members_of(o, per_org, len(tokens))
        org, requests = organization(port, "bench-%d" % o, subnet, tokens, members)
        return o, org, requests

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(first, last)))


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    orgs, per_org, fanout = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    relay_orgs = (2 * int(sys.argv[6]) + per_org - 1) // per_org
    users = int(sys.argv[7]) or max(per_org, fanout + 1 if fanout > 0 else 0)
    processes = int(sys.argv[8]) if len(sys.argv) > 8 else 2
    threads = int(sys.argv[9]) if len(sys.argv) > 9 else 4
    if users < max(per_org, fanout + 1 if fanout > 0 else 0):
        raise SystemExit("USERS %d < max(PER_ORG, FANOUT + 1)" % users)

    start = time.time()
    with ThreadPoolExecutor(threads * processes) as pool:
        tokens = list(pool.map(account, [(port, i) for i in range(users)]))
    account_seconds = time.time() - start

    start = time.time()
    total = orgs + relay_orgs
    step = max(1, (total + processes * 4 - 1) // (processes * 4))
    slices = [(port, tokens, f, min(total, f + step), per_org, threads)
              for f in range(0, total, step)]
    results = []
    with multiprocessing.Pool(processes) as pool:
        for part in pool.imap(org_slice, slices):
            results.extend(part)
    requests = sum(r[2] for r in results)
    results.sort()
    with open(out_dir + "/agents-hold.txt", "w") as hold, \
            open(out_dir + "/agents-relay.txt", "w") as relay:
        for o, org, _ in results:
            for m in members_of(o, per_org, users):
                (hold if o < orgs else relay).write("%s %s\n" % (org, tokens[m]))
    if fanout > 0:
        members = list(range(fanout + 1))
        with ThreadPoolExecutor(1) as pool:
            org, n = pool.submit(organization, port, "bench-fanout", subnet_for(fanout + 1),
                                 tokens, members).result()
        requests += n
        with open(out_dir + "/agents-fanout.txt", "w") as out:
            for m in members:
                out.write("%s %s\n" % (org, tokens[m]))
    seconds = time.time() - start
    print(json.dumps({"bench": "signaling-setup", "users": users,
                      "organizations_per_user": round(orgs * per_org / users, 1),
                      "organizations": orgs,
                      "relay_organizations": relay_orgs,
                      "per_organization": per_org, "fanout_members": fanout + 1 if fanout else 0,
                      "account_seconds": round(account_seconds, 1),
                      "rest_requests": requests, "rest_seconds": round(seconds, 1),
                      "rest_requests_per_s": round(requests / max(seconds, 1e-9))}))


if __name__ == "__main__":
    main()
