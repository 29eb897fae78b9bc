// WsTransport over real sockets on 127.0.0.1: Raft messages between two and three nodes,
// batching into frames, per-link order, authentication failures, reconnection, heartbeat
// deadlines and back-pressure. Every test starts its own servers and closes them after.

import { createHook } from "node:async_hooks";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Index, Message, NodeId, Term } from "@geolock/raft";
import { encodeValue } from "../src/codec.js";
import { CloseCode, PROTOCOL_VERSION } from "../src/handshake.js";
import { raftChannelValidator } from "../src/raft-validation.js";
import type { PeerId, TransportLimits } from "../src/types.js";
import { WsTransport } from "../src/ws-transport.js";
import { connectRawPeer, newSecret, openRaw, startPeerServer, waitFor, type PeerServer } from "./helpers.js";

const TEST_LIMITS: Partial<TransportLimits> = {
  heartbeatIntervalMs: 100,
  heartbeatTimeoutMs: 2000,
  reconnectBaseMs: 10,
  reconnectMaxMs: 200,
  closeGraceMs: 200,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Transports first (they own client sockets), then the servers.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** NodeId = the number after the slash: us-east/2 is node 2. */
const nodeIdOf = (peer: PeerId): NodeId | undefined => Number(peer.split("/")[1]) as NodeId;

function heartbeat(from: PeerId, to: PeerId, commit: number): Message {
  return { type: "heartbeat", from: nodeIdOf(from)!, to: nodeIdOf(to)!, term: 1 as Term, commit: commit as Index, context: new Uint8Array([commit & 0xff]) };
}

interface TestNode {
  readonly id: PeerId;
  readonly server: PeerServer;
  transport: WsTransport;
  readonly received: { from: PeerId; message: Message }[];
}

function makeTransport(id: PeerId, peers: Map<PeerId, string>, secret: Uint8Array, received: TestNode["received"], limits = TEST_LIMITS): WsTransport {
  const transport = new WsTransport({ self: id, secret, peers, limits });
  transport.registerChannel("raft", raftChannelValidator({ self: nodeIdOf(id)!, nodeIdOf }), (from, message) => received.push({ from, message }));
  return transport;
}

async function startNodes(ids: PeerId[], secretOf: (id: PeerId) => Uint8Array, limits = TEST_LIMITS): Promise<TestNode[]> {
  const servers = await Promise.all(ids.map(() => startPeerServer()));
  for (const server of servers) cleanups.push(() => server.close());
  return ids.map((id, i) => {
    const peers = new Map(ids.flatMap((other, j) => (other === id ? [] : [[other, servers[j]!.url] as const])));
    const received: TestNode["received"] = [];
    const node: TestNode = { id, server: servers[i]!, transport: makeTransport(id, peers, secretOf(id), received, limits), received };
    node.server.transport = node.transport;
    node.transport.start();
    cleanups.push(() => node.transport.close());
    return node;
  });
}

/**
 * us-east/2 alone, configured with one peer us-east/1 whose URL leads nowhere (us-east/1
 * dials, so us-east/2 never uses it): tests play us-east/1 by hand with raw sockets.
 */
async function startLoneAcceptor(secret: Uint8Array, limits = TEST_LIMITS): Promise<{ server: PeerServer; transport: WsTransport; received: TestNode["received"] }> {
  const server = await startPeerServer();
  cleanups.push(() => server.close());
  const received: TestNode["received"] = [];
  const transport = makeTransport("us-east/2", new Map([["us-east/1", "ws://127.0.0.1:1/peer"]]), secret, received, limits);
  server.transport = transport;
  transport.start();
  cleanups.push(() => transport.close());
  return { server, transport, received };
}

async function allConnected(nodes: TestNode[]): Promise<void> {
  await waitFor("every link up", () => nodes.every((a) => nodes.every((b) => a === b || a.transport.isConnected(b.id))));
}

const counters = (node: TestNode, peer: PeerId) => node.transport.stats().peers.get(peer)!.counters;

describe("WsTransport between healthy nodes", () => {
  it("exchanges Raft messages in both directions between two nodes", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    expect(a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 1))).toBe("queued");
    expect(b!.transport.send(a!.id, "raft", heartbeat(b!.id, a!.id, 2))).toBe("queued");
    await waitFor("both messages", () => a!.received.length === 1 && b!.received.length === 1);
    expect(b!.received[0]).toStrictEqual({ from: a!.id, message: heartbeat(a!.id, b!.id, 1) });
    expect(a!.received[0]).toStrictEqual({ from: b!.id, message: heartbeat(b!.id, a!.id, 2) });
  });

  it("puts messages sent in one turn into one frame, on every link of three nodes", async () => {
    const secret = newSecret();
    const nodes = await startNodes(["us-east/1", "us-east/2", "us-east/3"], () => secret);
    await allConnected(nodes);
    const before = new Map(nodes.flatMap((to) => nodes.filter((f) => f !== to).map((from) => [`${from.id}>${to.id}`, { ...counters(to, from.id) }] as const)));
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        for (let commit = 0; commit < 5; commit++) from.transport.send(to.id, "raft", heartbeat(from.id, to.id, commit));
      }
    }
    await waitFor("10 messages at each node", () => nodes.every((n) => n.received.length === 10));
    for (const to of nodes) {
      for (const from of nodes) {
        if (from === to) continue;
        const was = before.get(`${from.id}>${to.id}`)!;
        const now = counters(to, from.id);
        expect(now.framesReceived - was.framesReceived, `${from.id} -> ${to.id}`).toBe(1);
        expect(now.messagesReceived - was.messagesReceived).toBe(5);
      }
    }
  });

  it("writes what is queued at once on flush(), and what is sent after it in a frame of its own, in order", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    const sentBefore = counters(a!, b!.id).framesSent;
    a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 1));
    a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 2));
    a!.transport.flush();
    // Written in this turn, not at its end.
    expect(counters(a!, b!.id).framesSent - sentBefore).toBe(1);
    a!.transport.flush();
    expect(counters(a!, b!.id).framesSent - sentBefore).toBe(1);
    a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 3));
    await waitFor("3 messages", () => b!.received.length === 3);
    expect(b!.received.map((r) => (r.message as { commit: number }).commit)).toStrictEqual([1, 2, 3]);
    expect(counters(a!, b!.id).framesSent - sentBefore).toBe(2);
  });

  it("preserves the order of messages on a link across many turns", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    for (let commit = 0; commit < 300; commit++) {
      b!.transport.send(a!.id, "raft", heartbeat(b!.id, a!.id, commit));
      if (commit % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor("300 messages", () => a!.received.length === 300);
    expect(a!.received.map((r) => (r.message as { commit: number }).commit)).toStrictEqual([...Array(300).keys()]);
    expect(counters(a!, b!.id).framesReceived).toBeLessThan(300);
  });

  it("refuses a Raft message whose sender is not the authenticated peer and closes the link", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    // us-east/1 claims to be node 3: valid Raft, wrong link.
    a!.transport.send(b!.id, "raft", { ...heartbeat(a!.id, b!.id, 1), from: 3 as NodeId });
    await waitFor("a rejected frame", () => counters(b!, a!.id).framesRejected === 1);
    expect(b!.received).toHaveLength(0);
    await waitFor("the link to come back", () => a!.transport.isConnected(b!.id) && counters(a!, b!.id).reconnects >= 1);
  });
});

describe("WsTransport authentication", () => {
  it("refuses a peer with the wrong secret and delivers none of its messages", async () => {
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => newSecret());
    a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 1));
    b!.transport.send(a!.id, "raft", heartbeat(b!.id, a!.id, 1));
    // us-east/1 dials; us-east/2's proof does not check out, so the dialer refuses it.
    await waitFor("repeated handshake failures", () => counters(a!, b!.id).authFailures >= 2);
    expect(a!.transport.isConnected(b!.id) || b!.transport.isConnected(a!.id)).toBe(false);
    expect(a!.received).toHaveLength(0);
    expect(b!.received).toHaveLength(0);
    expect(counters(a!, b!.id).connects + counters(b!, a!.id).connects).toBe(0);
  });

  it("closes a raw peer that knows the id but not the secret, before reading anything else", async () => {
    const b = await startLoneAcceptor(newSecret());
    const { ws, closed } = await openRaw(b.server.url);
    // A well-formed hello, then a frame before any challenge was answered.
    ws.send(encodeValue([1, PROTOCOL_VERSION, "us-east/1", "us-east/2", new Uint8Array(32)]));
    ws.send(encodeValue([["raft", heartbeat("us-east/1", "us-east/2", 1)]]));
    expect(await closed).toBe(CloseCode.protocolError);
    expect(b.received).toHaveLength(0);
    expect(b.transport.stats().peers.get("us-east/1")!.counters.authFailures).toBe(1);
  });

  it("refuses a peer claiming an id that is not configured", async () => {
    const b = await startLoneAcceptor(newSecret());
    const { ws, closed } = await openRaw(b.server.url);
    ws.send(encodeValue([1, PROTOCOL_VERSION, "us-east/0", "us-east/2", new Uint8Array(32)]));
    expect(await closed).toBe(CloseCode.unknownPeer);
    expect(b.transport.stats().handshakesRefused).toBe(1);
  });

  it("refuses a configured peer that dials against the dial rule", async () => {
    const secret = newSecret();
    const [a] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    const { ws, closed } = await openRaw(a!.server.url);
    ws.send(encodeValue([1, PROTOCOL_VERSION, "us-east/2", "us-east/1", new Uint8Array(32)]));
    expect(await closed).toBe(CloseCode.wrongDirection);
  });

  it("refuses a replayed handshake", async () => {
    const secret = newSecret();
    const { server, transport: b, received } = await startLoneAcceptor(secret);
    // A genuine us-east/1 authenticates; an eavesdropper records what it sent.
    const genuine = await connectRawPeer(server.url, "us-east/1", "us-east/2", secret);
    await waitFor("the genuine link", () => b.isConnected("us-east/1"));
    const replay = await openRaw(server.url);
    replay.ws.send(genuine.sent[0]!);
    await new Promise<void>((resolve) => replay.ws.once("message", () => resolve()));
    replay.ws.send(genuine.sent[1]!);
    replay.ws.send(encodeValue([["raft", heartbeat("us-east/1", "us-east/2", 9)]]));
    expect(await replay.closed).toBe(CloseCode.authFailed);
    expect(received).toHaveLength(0);
    expect(b.stats().peers.get("us-east/1")!.counters.authFailures).toBe(1);
    genuine.ws.terminate();
  });
});

describe("WsTransport link lifecycle", () => {
  it("reconnects after the peer restarts on the same port, and messages flow again", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    await b!.transport.close();
    await b!.server.close();
    await waitFor("a to notice", () => !a!.transport.isConnected(b!.id));
    a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 7));

    const server = await startPeerServer(b!.server.port);
    cleanups.push(() => server.close());
    const received: TestNode["received"] = [];
    const restarted = makeTransport(b!.id, new Map([[a!.id, a!.server.url]]), secret, received);
    server.transport = restarted;
    restarted.start();
    cleanups.push(() => restarted.close());

    await waitFor("the link to come back", () => a!.transport.isConnected(b!.id) && restarted.isConnected(a!.id));
    // Queued while the peer was away, delivered once it is back.
    await waitFor("the queued message", () => received.length === 1);
    restarted.send(a!.id, "raft", heartbeat(b!.id, a!.id, 8));
    await waitFor("the reply", () => a!.received.length === 1);
    expect(counters(a!, b!.id).reconnects).toBeGreaterThanOrEqual(1);
  });

  it("drops a link on which nothing arrives before the heartbeat deadline", async () => {
    const secret = newSecret();
    const limits = { ...TEST_LIMITS, heartbeatIntervalMs: 50, heartbeatTimeoutMs: 300 };
    const { server, transport: lonely } = await startLoneAcceptor(secret, limits);
    // us-east/1 authenticates by hand and then never sends anything again.
    const silent = await connectRawPeer(server.url, "us-east/1", "us-east/2", secret);
    await waitFor("link up", () => lonely.isConnected("us-east/1"));
    await silent.closed;
    expect(lonely.isConnected("us-east/1")).toBe(false);
    expect(lonely.stats().peers.get("us-east/1")!.counters.heartbeatTimeouts).toBe(1);
  });

  it("drops, counts and bounds what it cannot send to a peer that stops reading", async () => {
    const secret = newSecret();
    const limits = { ...TEST_LIMITS, maxFrameBytes: 256 * 1024, maxQueuedBytes: 1024 * 1024, maxBufferedBytes: 1024 * 1024, heartbeatTimeoutMs: 30_000 };
    const server = await startPeerServer();
    cleanups.push(() => server.close());
    const sender = new WsTransport({ self: "us-east/2", secret, peers: new Map([["us-east/1", "ws://127.0.0.1:1/peer"]]), limits });
    sender.registerChannel("blob", (x) => (x instanceof Uint8Array ? { ok: true, value: x } : { ok: false, error: { code: "wrongType", path: "", detail: "bytes" } }), () => {});
    server.transport = sender;
    sender.start();
    cleanups.push(() => sender.close());
    const reader = await connectRawPeer(server.url, "us-east/1", "us-east/2", secret);
    await waitFor("link up", () => sender.isConnected("us-east/1"));
    reader.ws.pause();

    const blob = new Uint8Array(64 * 1024);
    let attempts = 0;
    const stats = () => sender.stats().peers.get("us-east/1")!;
    for (let turn = 0; turn < 1000 && stats().counters.droppedBackpressure === 0; turn++) {
      for (let i = 0; i < 8; i++, attempts++) sender.send("us-east/1", "blob", blob);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { counters: c, queuedBytes, bufferedBytes } = stats();
    expect(c.droppedBackpressure).toBeGreaterThan(0);
    expect(queuedBytes).toBeLessThanOrEqual(limits.maxQueuedBytes);
    expect(bufferedBytes).toBeLessThanOrEqual(limits.maxBufferedBytes + limits.maxQueuedBytes + limits.maxFrameBytes);
    expect(c.messagesSent + c.droppedBackpressure + c.droppedQueueFull + stats().queuedMessages).toBe(attempts);
    reader.ws.terminate();
  });

  it("bounds the queue of a peer that is not connected, in messages", async () => {
    const sender = new WsTransport({
      self: "us-east/2",
      secret: newSecret(),
      peers: new Map([["us-east/1", "ws://127.0.0.1:1/peer"]]),
      limits: { ...TEST_LIMITS, maxQueuedMessages: 10 },
    });
    sender.registerChannel("raft", raftChannelValidator({ self: 2 as NodeId, nodeIdOf }), () => {});
    cleanups.push(() => sender.close());
    const outcomes = Array.from({ length: 15 }, (_, i) => sender.send("us-east/1", "raft", heartbeat("us-east/2", "us-east/1", i)));
    expect(outcomes.filter((o) => o === "queued")).toHaveLength(10);
    expect(outcomes.filter((o) => o === "droppedQueueFull")).toHaveLength(5);
    expect(sender.stats().peers.get("us-east/1")!.queuedMessages).toBe(10);
  });

  it("leaves no socket, server or timer behind once transports and servers are closed", async () => {
    // Every timer and TCP handle created while the nodes run must be gone after close().
    const live = new Map<number, string>();
    const watched = new Set(["Timeout", "Immediate", "TCPWRAP", "TCPSERVERWRAP"]);
    /** Sockets and servers created after close(): a late reconnect would dial one. */
    const socketsAfterClose: string[] = [];
    let closed = false;
    const hook = createHook({
      init: (asyncId, type) => {
        if (watched.has(type)) live.set(asyncId, type);
        if (closed && type.startsWith("TCP")) socketsAfterClose.push(type);
      },
      destroy: (asyncId) => {
        live.delete(asyncId);
      },
    }).enable();
    try {
      const secret = newSecret();
      const nodes = await startNodes(["us-east/1", "us-east/2", "us-east/3"], () => secret);
      await allConnected(nodes);
      nodes[0]!.transport.send("us-east/2", "raft", heartbeat("us-east/1", "us-east/2", 1));
      await waitFor("delivery", () => nodes[1]!.received.length === 1);
      expect(live.size).toBeGreaterThan(0);
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
      closed = true;
      // Handles are released a moment after their close callbacks. Only what existed by
      // now is awaited: waitFor's own polling timers come later and are not ours to judge.
      const ours = new Set(live.keys());
      const left = () => [...ours].filter((id) => live.has(id));
      await waitFor("every handle to be released", () => left().length === 0, 2000).catch(() => {
        throw new Error(`still alive after close: ${left().map((id) => live.get(id)).join(", ")}`);
      });
      // Longer than the largest reconnect backoff (200 ms): nothing dials or listens again.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(socketsAfterClose).toEqual([]);
    } finally {
      hook.disable();
    }
  });

  it("closes cleanly: no socket left open, sends after close are dropped", async () => {
    const secret = newSecret();
    const [a, b] = await startNodes(["us-east/1", "us-east/2"], () => secret);
    await allConnected([a!, b!]);
    await a!.transport.close();
    expect(a!.transport.isConnected(b!.id)).toBe(false);
    expect(a!.transport.send(b!.id, "raft", heartbeat(a!.id, b!.id, 1))).toBe("droppedClosed");
    await waitFor("b to see the close", () => !b!.transport.isConnected(a!.id));
  });
});

describe("outgoing links from a chosen local address", () => {
  it("dials from localAddress, so a harness can cut links by address pair", async () => {
    const seen: string[] = [];
    const server = createServer();
    server.on("upgrade", (request, socket) => {
      seen.push(request.socket.remoteAddress ?? "");
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    // "us-east/1" dials "us-east/2" (the smaller id dials).
    const transport = new WsTransport({
      self: "us-east/1",
      secret: newSecret(),
      peers: new Map([["us-east/2", `ws://127.0.0.1:${port}/peer`]]),
      limits: TEST_LIMITS,
      localAddress: "127.0.0.7",
    });
    transport.registerChannel("raft", raftChannelValidator({ self: 1 as NodeId, nodeIdOf }), () => {});
    transport.start();
    cleanups.push(() => transport.close());
    await waitFor("a dial", () => seen.length > 0);
    expect(seen[0]).toBe("127.0.0.7");
  });
});
