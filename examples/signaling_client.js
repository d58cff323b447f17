#!/usr/bin/env node
// The signaling seed's JavaScript connection flow on Node with the `ws` package (plugins/signaling,
// seed 001): connect with the JWT, register, keep the peers of the organization in memory, and
// say hello to each one with a relayed signal.
//   cd examples && npm ci        # installs the pinned ws (package-lock.json)
//   node examples/signaling_client.js --token "$TOKEN" [--url ws://localhost:8000/ws]
//        [--agent-id my-agent-001] [--until-signals N] [--timeout SECONDS]
// With --until-signals N it exits 0 after N signals arrived (CI uses it), else runs until Ctrl-C.
"use strict";
const WebSocket = require("ws");

const args = { url: "ws://localhost:8000/ws", agentId: "my-agent-001", untilSignals: 0,
               timeout: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  args[key] = process.argv[i + 1];
}
if (!args.token) {
  console.error("usage: signaling_client.js --token JWT [--url URL] [--agent-id ID]");
  process.exit(2);
}

const peers = new Map();  // the seed's "bộ nhớ tạm": peer_id -> peer
let signals = 0;

function storePeersInMemory(list) { list.forEach(addPeerToMemory); }
function addPeerToMemory(peer) {
  peers.set(peer.peer_id, peer);
  ws.send(JSON.stringify({ type: "signal", to: peer.peer_id,
                           data: { hello: args.agentId, kind: "offer" } }));
}

// 1. Connect with the JWT token
const ws = new WebSocket(args.url + "?token=" + encodeURIComponent(args.token));

ws.onopen = function () {
  console.log("WebSocket connected");
  // 2. The registration message (must be the first)
  ws.send(JSON.stringify({
    type: "register",
    agent_id: args.agentId,
    public_ip: "203.0.113.1",
    public_port: 50000,
    relay_ip: "203.0.113.10",
    relay_port: 50001,
  }));
};

ws.onmessage = function (event) {
  const data = JSON.parse(event.data);
  if (data.type === "register_agent_response") {
    console.log("Registered successfully!");
    console.log("Virtual IP:", data.virtual_ip);
    console.log("Connection ID:", data.connection_id);
    console.log("Existing peers:", data.existing_peers.map((p) => p.peer_id).join(",") || "-");
    storePeersInMemory(data.existing_peers);
  } else if (data.type === "peer_online") {
    console.log("New peer online:", data.peer.peer_id, data.peer.virtual_ip);
    addPeerToMemory(data.peer);
  } else if (data.type === "peer_offline") {
    console.log("Peer offline:", data.peer_id);
    peers.delete(data.peer_id);
  } else if (data.type === "signal") {
    console.log("Signal from", data.from, JSON.stringify(data.data));
    if (++signals >= Number(args.untilSignals) && Number(args.untilSignals) > 0) {
      ws.close(1000);
    }
  } else if (data.error) {
    console.error("Error:", data.error);
  }
};

ws.onerror = function (error) {
  console.error("WebSocket error:", error.message);
  process.exitCode = 1;
};

ws.onclose = function (event) {
  console.log("WebSocket disconnected", event.code);
  process.exit(process.exitCode || (event.code === 1000 ? 0 : 1));
};

if (Number(args.timeout) > 0) {
  setTimeout(() => { console.error("timeout"); process.exit(1); }, Number(args.timeout) * 1000);
}
