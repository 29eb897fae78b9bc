// The Paxos peer channel on an in-memory network (the real encode/validate path): messages
// reach the leader of the addressed region, a non-leader hands a message on once and hints
// the sender, and frames that lie about their origin or destination are refused.

import { asRegionId, ballot, paxosConfig, type PaxosMessage } from "@geolock/paxos";
import { MemoryTransportNetwork, type MemoryTransport } from "@geolock/transport";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PAXOS_CHANNEL, PaxosPeers } from "../src/paxos-peers.js";
import type { Topology } from "../src/topology.js";

const REGIONS = ["us-east", "us-west", "eu-west"];
const topology: Topology = {
  clusterId: "test",
  regions: REGIONS.map((name, r) => ({ name, id: r + 1, nodes: [1, 2].map((id) => ({ id, host: "127.0.0.1", port: 9000 + 10 * r + id })) })),
};
const paxos = paxosConfig(REGIONS.map(asRegionId));

interface Node {
  readonly transport: MemoryTransport;
  readonly peers: PaxosPeers;
  readonly delivered: PaxosMessage[];
  leader: string;
}

let transports: MemoryTransport[] = [];

function cluster(leaders: Record<string, number>): Map<string, Node> {
  const network = new MemoryTransportNetwork();
  const nodes = new Map<string, Node>();
  for (const region of topology.regions) {
    for (const n of region.nodes) {
      const self = `${region.name}/${n.id}`;
      const transport = network.create(self);
      transports.push(transport);
      const peers = new PaxosPeers({ topology, region: asRegionId(region.name), self, paxos }, transport);
      const node: Node = { transport, peers, delivered: [], leader: `${region.name}/${leaders[region.name] ?? 1}` };
      peers.attach({ isLeader: () => node.leader === self, leaderPeer: () => node.leader, deliver: (m) => node.delivered.push(m) });
      nodes.set(self, node);
    }
  }
  return nodes;
}

function prepare(from: string, to: string): PaxosMessage {
  return { kind: "prepare", from: asRegionId(from), to: asRegionId(to), key: "global:k" as PaxosMessage["key"], ballot: ballot(1, from, 1), fromInstance: 1 as never };
}

function node(nodes: Map<string, Node>, name: string): Node {
  const found = nodes.get(name);
  if (found === undefined) throw new Error(`no node ${name}`);
  return found;
}

/** One frame per send: a frame that fails validation is refused whole. */
async function sendAlone(from: Node, to: string, payload: unknown): Promise<void> {
  from.transport.send(to, PAXOS_CHANNEL, payload);
  await new Promise((resolve) => setTimeout(resolve, 5));
}

afterEach(async () => {
  await Promise.all(transports.map((t) => t.close()));
  transports = [];
});

describe("the Paxos peer channel", () => {
  it("delivers a message to the leader of the region it is addressed to", async () => {
    const nodes = cluster({ "eu-west": 1 });
    node(nodes, "us-east/1").peers.send(prepare("us-east", "eu-west"));
    await vi.waitFor(() => expect(node(nodes, "eu-west/1").delivered).toHaveLength(1));
    expect(node(nodes, "eu-west/1").delivered[0]).toMatchObject({ kind: "prepare", from: "us-east", to: "eu-west" });
    expect(node(nodes, "eu-west/2").delivered).toHaveLength(0);
  });

  it("hands a message reaching a non-leader on to its leader once, and the hint steers the next one directly", async () => {
    const nodes = cluster({ "eu-west": 2 });
    const sender = node(nodes, "us-east/1");
    sender.peers.send(prepare("us-east", "eu-west"));
    await vi.waitFor(() => expect(node(nodes, "eu-west/2").delivered).toHaveLength(1));
    expect(node(nodes, "eu-west/1").peers.stats.handedOn).toBe(1);
    sender.peers.send(prepare("us-east", "eu-west"));
    await vi.waitFor(() => expect(node(nodes, "eu-west/2").delivered).toHaveLength(2));
    expect(node(nodes, "eu-west/1").peers.stats.handedOn).toBe(1);
    expect(node(nodes, "eu-west/1").delivered).toHaveLength(0);
  });

  it("refuses a frame whose claimed sender region is not the peer's own", async () => {
    const nodes = cluster({});
    const forger = node(nodes, "us-east/1");
    await sendAlone(forger, "eu-west/1", { m: prepare("us-west", "eu-west"), handedOn: false });
    await sendAlone(forger, "eu-west/1", { m: prepare("us-east", "eu-west"), handedOn: true });
    await vi.waitFor(() => expect(node(nodes, "eu-west/1").peers.stats.refused).toBe(2));
    expect(node(nodes, "eu-west/1").delivered).toHaveLength(0);
  });

  it("refuses a frame addressed to another region, and one that does not decode", async () => {
    const nodes = cluster({});
    const sender = node(nodes, "us-east/1");
    await sendAlone(sender, "eu-west/1", { m: prepare("us-east", "us-west"), handedOn: false });
    await sendAlone(sender, "eu-west/1", { m: { ...prepare("us-east", "eu-west"), ballot: { round: -1 } }, handedOn: false });
    await sendAlone(sender, "eu-west/1", { m: prepare("us-east", "eu-west"), handedOn: false, extra: 1 });
    await vi.waitFor(() => expect(node(nodes, "eu-west/1").peers.stats.refused).toBe(3));
    expect(node(nodes, "eu-west/1").delivered).toHaveLength(0);
  });
});
