#!/usr/bin/python3
"""The signaling seed's Python client with websockets (plugins/signaling, seed 001): connect with
the JWT, register, list the organization's peers, and say hello to each with a relayed signal.

    examples/signaling_client.py --token "$TOKEN" [--url ws://localhost:8000/ws]
        [--agent-id python-agent-001] [--until-signals N] [--timeout SECONDS]

The token comes from POST /login (examples/signaling_setup.sh). With --until-signals N it exits
0 once N signals arrived, else it runs until Ctrl-C. Needs python3-websockets (Debian).
"""
import argparse
import asyncio
import json
import sys

import websockets


async def connect_and_register(uri, token, agent_id, public_ip, public_port, until_signals):
    peers = {}
    signals = 0
    async with websockets.connect(f"{uri}?token={token}") as websocket:
        # Send registration message
        await websocket.send(json.dumps({
            "type": "register",
            "agent_id": agent_id,
            "public_ip": public_ip,
            "public_port": public_port,
            "relay_ip": None,
            "relay_port": None,
        }))

        async def hello(peer):
            peers[peer["peer_id"]] = peer
            await websocket.send(json.dumps({"type": "signal", "to": peer["peer_id"],
                                             "data": {"hello": agent_id, "kind": "answer"}}))

        # Listen for messages
        async for message in websocket:
            data = json.loads(message)
            if data.get("type") == "register_agent_response":
                print(f"Registered! Virtual IP: {data['virtual_ip']}")
                print(f"Connection ID: {data['connection_id']}")
                print(f"Existing peers: {len(data['existing_peers'])}")
                for peer in data["existing_peers"]:
                    print(f"  - Peer: {peer['peer_id']} ({peer['virtual_ip']})")
                    await hello(peer)
            elif data.get("type") == "peer_online":
                print(f"New peer online: {data['peer']['peer_id']}")
                await hello(data["peer"])
            elif data.get("type") == "peer_offline":
                print(f"Peer offline: {data['peer_id']}")
                peers.pop(data["peer_id"], None)
            elif data.get("type") == "signal":
                print(f"Signal from {data['from']}: {json.dumps(data['data'])}")
                signals += 1
                if until_signals and signals >= until_signals:
                    return 0
            elif data.get("error"):
                print(f"Error: {data['error']}")
    return 1  # the server closed the connection


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default="ws://localhost:8000/ws")
    p.add_argument("--token", required=True)
    p.add_argument("--agent-id", default="python-agent-001")
    p.add_argument("--public-ip", default="203.0.113.1")
    p.add_argument("--public-port", type=int, default=50000)
    p.add_argument("--until-signals", type=int, default=0)
    p.add_argument("--timeout", type=float, default=None)
    a = p.parse_args()
    run = connect_and_register(a.url, a.token, a.agent_id, a.public_ip, a.public_port,
                               a.until_signals)
    try:
        return asyncio.run(asyncio.wait_for(run, a.timeout))
    except asyncio.TimeoutError:
        print("timeout", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
