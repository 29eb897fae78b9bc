// GeolockClient against fake nodes (test/fake-node.ts) on 127.0.0.1: request matching and
// pipelining, exactly-once retries (same seq) across dropped connections, failover, leader
// hints, the conservative lease deadline, server-side expiry, try-lock and wait outcomes,
// and close(). Nothing here asserts a duration; every wait is bounded by vi.waitFor or the
// test timeout.

import type { ClientRequest } from "@geolock/transport";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GeolockClient, isGeolockError, type ConnectOptions, type LockHandle } from "../src/index.js";
import { err, FakeLockState, startRegion, type FakeNode } from "./fake-node.js";

/** Two fake regions sharing one state, each node's cluster view naming every node of both. */
async function twoRegions(): Promise<{ east: FakeNode; west: FakeNode }> {
  state = new FakeLockState();
  const [east] = await startRegion("us-east", 1, state);
  const [west] = await startRegion("us-west", 1, state);
  nodes = [east as FakeNode, west as FakeNode];
  const regions = nodes.map((n) => ({ name: n.region, nodes: [{ name: n.name, host: "127.0.0.1", port: n.port }], leaderGuess: n.name }));
  for (const node of nodes) node.clusterView = { self: node.name, region: node.region, leader: node.name, regions };
  return { east: east as FakeNode, west: west as FakeNode };
}

let nodes: FakeNode[] = [];
let clients: GeolockClient[] = [];
let state: FakeLockState;

async function region(count: number): Promise<FakeNode[]> {
  state = new FakeLockState();
  nodes = await startRegion("us-east", count, state);
  return nodes;
}

async function connect(options: ConnectOptions = {}): Promise<GeolockClient> {
  const client = await GeolockClient.connect({ endpoints: nodes.map((n) => n.url), ttlMs: 3_000, requestTimeoutMs: 5_000, ...options });
  clients.push(client);
  return client;
}

function sent(node: FakeNode, op: ClientRequest["op"]): ClientRequest[] {
  return node.requests.filter((r) => r.op === op);
}

/**
 * How long before the handle's conservative deadline (as it stood when this was called)
 * `lost` fired; negative or zero when it fired at or after that deadline.
 */
function marginAtLost(handle: LockHandle): Promise<number> {
  const deadline = performance.now() + handle.remainingMs();
  return new Promise((resolve) => handle.lost.addEventListener("abort", () => resolve(deadline - performance.now()), { once: true }));
}

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(nodes.map((n) => n.close()));
  state?.stop();
  clients = [];
  nodes = [];
});

describe("requests", () => {
  it("matches answers to requests by id when they come back in another order", async () => {
    const [a] = await region(1);
    const client = await connect();
    (a as FakeNode).reverseAnswers = true;
    const before = (a as FakeNode).frames.length;
    const names = Array.from({ length: 50 }, (_, i) => `us-east:k${i}`);
    const statuses = await Promise.all(names.map((name) => client.status(name)));
    expect(statuses.map((s) => s.name)).toEqual(names);
    // The requests shared frames, so their answers really came back reversed.
    expect(Math.max(...(a as FakeNode).frames.slice(before))).toBeGreaterThan(1);
  });

  it("pipelines requests issued together into shared frames", async () => {
    const [a] = await region(1);
    const client = await connect();
    const before = (a as FakeNode).frames.length;
    await Promise.all(Array.from({ length: 300 }, (_, i) => client.status(`us-east:p${i}`)));
    const frames = (a as FakeNode).frames.slice(before);
    expect(frames.reduce((x, y) => x + y, 0)).toBe(300);
    expect(frames.length).toBeLessThan(10);
    expect(Math.max(...frames)).toBeLessThanOrEqual(256);
  });

  it("refuses a name without a region prefix before sending anything", async () => {
    const [a] = await region(1);
    const client = await connect();
    await expect(client.acquire("no-prefix")).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(client.acquire("mars:x")).rejects.toMatchObject({ code: "INVALID_NAME" });
    expect(sent(a as FakeNode, "openSession")).toHaveLength(0);
  });
});

describe("exactly-once retries", () => {
  it("re-sends an acquire with the same seq after the connection drops, and gets one grant", async () => {
    const [a] = await region(1);
    const client = await connect();
    let cut = false;
    (a as FakeNode).intercept = (r) => {
      if (r.op !== "acquire" || cut) return undefined;
      cut = true;
      // The command is applied, but the answer is lost with the connection.
      void state.handle(r, undefined);
      return "disconnect";
    };
    const handle = await client.acquire("us-east:job");
    const acquires = sent(a as FakeNode, "acquire") as Extract<ClientRequest, { op: "acquire" }>[];
    expect(acquires.length).toBeGreaterThanOrEqual(2);
    expect(new Set(acquires.map((r) => `${r.clientId}/${r.seq}`)).size).toBe(1);
    expect(state.applied.filter((r) => r.op === "acquire")).toHaveLength(1);
    expect(handle.token).toBe(1);
  });

  it("re-sends with the same seq when an attempt goes unanswered", async () => {
    const [a] = await region(1);
    const client = await connect({ retry: { attemptTimeoutMs: 200 } });
    let dropped = 0;
    (a as FakeNode).intercept = (r) => (r.op === "acquire" && dropped++ < 2 ? "drop" : undefined);
    const handle = await client.acquire("us-east:slow");
    const seqs = (sent(a as FakeNode, "acquire") as Extract<ClientRequest, { op: "acquire" }>[]).map((r) => r.seq);
    expect(seqs).toHaveLength(3);
    expect(new Set(seqs).size).toBe(1);
    expect(handle.token).toBeGreaterThan(0);
  });
});

describe("failover", () => {
  it("connects to the next endpoint when the first is down", async () => {
    const [a, b] = await region(2);
    await (a as FakeNode).close();
    const client = await connect();
    const handle = await client.acquire("us-east:fo");
    expect(sent(b as FakeNode, "acquire")).toHaveLength(1);
    expect(handle.token).toBe(1);
  });

  it("moves to another node when its node dies mid-request, keeping the seq", async () => {
    const [a, b] = await region(2);
    const client = await connect();
    (a as FakeNode).intercept = (r) => {
      if (r.op === "acquire") void (a as FakeNode).close();
      return r.op === "acquire" ? "drop" : undefined;
    };
    await client.acquire("us-east:mid");
    const first = sent(a as FakeNode, "acquire")[0] as Extract<ClientRequest, { op: "acquire" }>;
    const second = sent(b as FakeNode, "acquire")[0] as Extract<ClientRequest, { op: "acquire" }>;
    expect(second.seq).toBe(first.seq);
    expect(second.clientId).toBe(first.clientId);
  });

  it("follows a NOT_LEADER hint to the node it names", async () => {
    const [a, b] = await region(2);
    const client = await connect();
    (a as FakeNode).intercept = (r) => (r.op === "acquire" ? err("NOT_LEADER", "not the leader", (b as FakeNode).name) : undefined);
    const handle = await client.acquire("us-east:hint");
    expect(sent(a as FakeNode, "acquire")).toHaveLength(1);
    expect(sent(b as FakeNode, "acquire")).toHaveLength(1);
    expect(handle.token).toBe(1);
  });

  it("moves to its home region when the first node that answered, listed without its region, is in another", async () => {
    const { east, west } = await twoRegions();
    const client = await connect({ endpoints: [east.url, west.url], region: "us-west" });
    await client.acquire("us-east:home");
    expect(sent(west, "acquire")).toHaveLength(1);
    expect(east.requests.map((r) => r.op)).toEqual(["cluster"]);
    await vi.waitFor(() => expect(east.connections).toBe(0), { timeout: 5_000, interval: 5 });
  });

  it("finds its home region from the cluster view even when only another region's node was listed", async () => {
    const { east, west } = await twoRegions();
    const client = await connect({ endpoints: [east.url], region: "us-west" });
    await client.acquire("us-west:found");
    expect(sent(west, "acquire")).toHaveLength(1);
    expect(sent(east, "acquire")).toHaveLength(0);
  });

  it("follows a NOT_LEADER hint into another region without being pulled back home", async () => {
    const { east, west } = await twoRegions();
    const client = await connect({ endpoints: [west.url, east.url], region: "us-west" });
    west.intercept = (r) => (r.op === "acquire" ? err("NOT_LEADER", "not the leader", east.name) : undefined);
    await client.acquire("us-east:hinted");
    expect(sent(west, "acquire")).toHaveLength(1);
    expect(sent(east, "acquire")).toHaveLength(1);
  });

  it("refuses a home region retry period that is not a positive number of milliseconds", async () => {
    await region(1);
    for (const homeRetryMs of [0, -5, Number.NaN]) {
      await expect(connect({ connection: { homeRetryMs } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
  });

  it("stays with another region's node when no node of its home region answers", async () => {
    const { east, west } = await twoRegions();
    await west.close();
    const client = await connect({ endpoints: [east.url, west.url], region: "us-west" });
    await client.acquire("us-west:away");
    expect(sent(east, "acquire")).toHaveLength(1);
  });

  it("returns to its home region once a node of it answers again, keeping its lock", async () => {
    const { east, west } = await twoRegions();
    // West turns clients away (no cluster view): the client settles in east.
    west.intercept = (r) => (r.op === "cluster" ? "disconnect" : undefined);
    const client = await connect({ endpoints: [west.url, east.url], region: "us-west", connection: { homeRetryMs: 20 } });
    const held = await client.acquire("us-west:away");
    expect(sent(east, "acquire")).toHaveLength(1);
    // Tried again and again while it stays down; the client stays in east meanwhile.
    await vi.waitFor(() => expect(sent(west, "cluster").length).toBeGreaterThanOrEqual(3), { timeout: 5_000, interval: 5 });
    expect(east.connections).toBe(1);
    west.intercept = () => undefined;
    await vi.waitFor(() => expect(east.connections).toBe(0), { timeout: 5_000, interval: 5 });
    await client.acquire("us-west:home");
    expect(sent(west, "acquire")).toHaveLength(1);
    await held.release();
    expect(sent(west, "release")).toHaveLength(1);
    expect(held.lost.aborted).toBe(false);
  });

  it("gives up with UNAVAILABLE when no node can be reached, within its deadline", async () => {
    const [a] = await region(1);
    const client = await connect({ requestTimeoutMs: 500 });
    await (a as FakeNode).close();
    await expect(client.status("us-east:x")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("reports why opening the session failed, not ABORTED, when an acquire cannot get a session", async () => {
    const [a] = await region(1);
    const client = await connect({ requestTimeoutMs: 500 });
    await (a as FakeNode).close();
    await expect(client.acquire("us-east:x")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("losing a lock", () => {
  it("fires lost at the conservative deadline when keep-alives stop being answered", async () => {
    const [a] = await region(1);
    const client = await connect({ ttlMs: 600, retry: { attemptTimeoutMs: 100 } });
    const handle = await client.acquire("us-east:lease");
    const margin = marginAtLost(handle);
    (a as FakeNode).intercept = (r) => (r.op === "keepAlive" ? "drop" : undefined);
    await vi.waitFor(() => expect(handle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    // At the deadline, not before it (timers never fire early; 5 ms covers clock rounding).
    expect(await margin).toBeLessThanOrEqual(5);
    expect(handle.state).toBe("lost");
    expect(isGeolockError(handle.lost.reason, "LOCK_LOST")).toBe(true);
    await expect(handle.release()).rejects.toMatchObject({ code: "LOCK_LOST" });
  });

  it("keeps a lock past its TTL while keep-alives are answered", async () => {
    const [a] = await region(1);
    const client = await connect({ ttlMs: 600 });
    const handle = await client.acquire("us-east:kept");
    await vi.waitFor(() => expect(sent(a as FakeNode, "keepAlive").length).toBeGreaterThanOrEqual(6), { timeout: 10_000, interval: 50 });
    expect(handle.lost.aborted).toBe(false);
    await handle.release();
    expect(handle.state).toBe("released");
  });

  it("fires lost on a sessionExpired push and opens a new session for the next acquire", async () => {
    const [a] = await region(1);
    const client = await connect();
    const handle = await client.acquire("us-east:pushed");
    const lost = state.endSession(handle.sessionId);
    (a as FakeNode).push({ push: "sessionExpired", region: "us-east", sessionId: handle.sessionId, lost });
    await vi.waitFor(() => expect(handle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    const again = await client.acquire("us-east:pushed");
    expect(again.sessionId).not.toBe(handle.sessionId);
    expect(again.token).toBeGreaterThan(handle.token);
  });

  it("fires lost when a keep-alive answers SESSION_EXPIRED", async () => {
    await region(1);
    const client = await connect({ ttlMs: 600 });
    const handle = await client.acquire("us-east:expired");
    const margin = marginAtLost(handle);
    state.endSession(handle.sessionId);
    await vi.waitFor(() => expect(handle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    // Fired by the answer, well before the conservative deadline would have fired it.
    expect(await margin).toBeGreaterThan(50);
    expect(sent(nodes[0] as FakeNode, "closeSession")).toHaveLength(0);
  });

  it("withLock rejects with LOCK_LOST when the lock was lost during the work", async () => {
    const [a] = await region(1);
    const client = await connect();
    const work = client.withLock("us-east:wl", async (handle, lost) => {
      const ended = state.endSession(handle.sessionId);
      (a as FakeNode).push({ push: "sessionExpired", region: "us-east", sessionId: handle.sessionId, lost: ended });
      await new Promise((resolve) => lost.addEventListener("abort", resolve, { once: true }));
      return "done";
    });
    await expect(work).rejects.toMatchObject({ code: "LOCK_LOST" });
  });
});

describe("acquire outcomes", () => {
  it("refuses a try-lock on a held lock with HELD and the holders", async () => {
    await region(1);
    const holder = await connect({ owner: "holder-1" });
    const other = await connect();
    const handle = await holder.acquire("us-east:t");
    const error = await other.acquire("us-east:t").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "HELD" });
    expect(isGeolockError(error) && error.details.holders?.[0]).toMatchObject({ owner: "holder-1", token: handle.token });
  });

  it("waits for a lock and gets it with a larger token when it is released", async () => {
    await region(1);
    const holder = await connect();
    const waiter = await connect();
    const first = await holder.acquire("us-east:w");
    const waiting = waiter.acquire("us-east:w", { waitMs: 10_000 });
    await vi.waitFor(() => expect(state.waiters.get("us-east:w")?.length).toBe(1), { timeout: 5_000, interval: 20 });
    await first.release();
    const second = await waiting;
    expect(second.token).toBeGreaterThan(first.token);
  });

  it("rejects with TIMEOUT when the wait ends", async () => {
    await region(1);
    const holder = await connect();
    const waiter = await connect();
    await holder.acquire("us-east:to");
    await expect(waiter.acquire("us-east:to", { waitMs: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
  });

  it("withdraws a queued acquire that the caller aborts", async () => {
    const [a] = await region(1);
    const holder = await connect();
    const waiter = await connect();
    await holder.acquire("us-east:ab");
    const controller = new AbortController();
    const waiting = waiter.acquire("us-east:ab", { waitMs: 10_000, signal: controller.signal });
    await vi.waitFor(() => expect(state.waiters.get("us-east:ab")?.length).toBe(1), { timeout: 5_000, interval: 20 });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: "ABORTED" });
    expect(state.waiters.get("us-east:ab")).toHaveLength(0);
    expect(sent(a as FakeNode, "release").length).toBeGreaterThanOrEqual(1);
  });

  it("moves a wait to a new session when its session is lost while waiting", async () => {
    const [a] = await region(1);
    const holder = await connect();
    const waiter = await connect({ ttlMs: 600, retry: { attemptTimeoutMs: 100 } });
    const held = await holder.acquire("us-east:sl");
    let dropKeepAlives = true;
    (a as FakeNode).intercept = (r) => (r.op === "keepAlive" && r.clientId === waiter.clientId && dropKeepAlives ? "drop" : undefined);
    const waiting = waiter.acquire("us-east:sl", { waitMs: 10_000 });
    await vi.waitFor(() => expect(sent(a as FakeNode, "openSession").filter((r) => "clientId" in r && r.clientId === waiter.clientId)).toHaveLength(2), { timeout: 5_000, interval: 20 });
    dropKeepAlives = false;
    await vi.waitFor(() => expect(state.waiters.get("us-east:sl")?.length).toBeGreaterThanOrEqual(1), { timeout: 5_000, interval: 20 });
    await held.release();
    const granted = await waiting;
    const second = sent(a as FakeNode, "openSession").filter((r) => "clientId" in r && r.clientId === waiter.clientId).length;
    expect(second).toBe(2);
    expect(granted.sessionId).toBe(Math.max(...[...state.sessions.keys()]));
    // The first session may have been granted the lock before it ended: the handle says so.
    expect(granted.sessionReplaced).toBe(true);
    expect(held.sessionReplaced).toBe(false);
  });

  it("says so when a try-lock was refused in a new session after its first one ended with the outcome unknown", async () => {
    const [a] = await region(1);
    const holder = await connect();
    await holder.acquire("us-east:tr");
    const tryer = await connect({ ttlMs: 600, retry: { attemptTimeoutMs: 100 } });
    let unanswered = true;
    const mine = (r: ClientRequest): boolean => "clientId" in r && r.clientId === tryer.clientId;
    (a as FakeNode).intercept = (r) => (unanswered && mine(r) && (r.op === "keepAlive" || r.op === "acquire") ? "drop" : undefined);
    const trying = tryer.acquire("us-east:tr", { waitMs: 0 }).catch((error: unknown) => error);
    await vi.waitFor(() => expect(sent(a as FakeNode, "openSession").filter(mine)).toHaveLength(2), { timeout: 5_000, interval: 20 });
    unanswered = false;
    const error = await trying;
    expect(isGeolockError(error, "HELD")).toBe(true);
    expect((error as { details: { sessionReplaced?: boolean } }).details.sessionReplaced).toBe(true);
    // Refused in its first session, a try-lock says nothing of the kind.
    const plain = await (await connect()).acquire("us-east:tr").catch((e: unknown) => e);
    expect(isGeolockError(plain, "HELD")).toBe(true);
    expect((plain as { details: { sessionReplaced?: boolean } }).details.sessionReplaced).toBeUndefined();
  });

  it("gives up a wait the moment its session is lost on the client's clock, even if the node never answers", async () => {
    const [a] = await region(1);
    const holder = await connect();
    const waiter = await connect({ ttlMs: 600, retry: { attemptTimeoutMs: 100 } });
    await holder.acquire("us-east:silent");
    // The node swallows the waiter's keep-alives and its session close: only the client's own
    // deadline can end the first wait, which would otherwise last its whole 10 s.
    (a as FakeNode).intercept = (r) => ("clientId" in r && r.clientId === waiter.clientId && (r.op === "keepAlive" || r.op === "closeSession") ? "drop" : undefined);
    const waiting = waiter.acquire("us-east:silent", { waitMs: 10_000 });
    waiting.catch(() => undefined);
    const acquiresOfWaiter = (): number[] => sent(a as FakeNode, "acquire").flatMap((r) => (r.op === "acquire" && r.clientId === waiter.clientId ? [r.sessionId] : []));
    // Without the session's stop, the first wait would end only after its 10 s.
    await vi.waitFor(() => expect(acquiresOfWaiter()).toHaveLength(2), { timeout: 5_000, interval: 20 });
    const [first, second] = acquiresOfWaiter();
    expect(second).not.toBe(first);
    expect(state.waiters.get("us-east:silent")?.map((w) => w.sessionId)).toEqual([first, second]);
  });

  it("adopts a grant whose answer was lost behind TIMEOUTs, instead of withdrawing it", async () => {
    const [a] = await region(1);
    const client = await connect();
    let applied = false;
    (a as FakeNode).intercept = (r) => {
      if (r.op !== "acquire") return undefined;
      if (!applied) void state.handle(r, undefined);
      applied = true;
      return err("TIMEOUT", "no answer from the leader; the request may still take effect");
    };
    const handle = await client.acquire("us-east:adopt", { waitMs: 300 });
    expect(handle.token).toBe(state.holders.get("us-east:adopt")?.token);
    expect(sent(a as FakeNode, "release")).toHaveLength(0);
  });

  it("refuses a second acquire of a name this client holds", async () => {
    await region(1);
    const client = await connect();
    await client.acquire("us-east:re");
    await expect(client.acquire("us-east:re")).rejects.toMatchObject({ code: "ALREADY_HELD" });
  });

  it("opens one session per region for concurrent acquires", async () => {
    const [a] = await region(1);
    const client = await connect();
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => client.acquire(`us-east:c${i}`)));
    expect(sent(a as FakeNode, "openSession")).toHaveLength(1);
    expect(new Set(handles.map((h) => h.token)).size).toBe(20);
  });
});

describe("forks sharing one connection", () => {
  it("gives each fork its own client id and session over one socket, with requests of one turn in shared frames", async () => {
    const [a] = await region(1);
    const root = await connect();
    const forks = Array.from({ length: 8 }, () => root.fork());
    clients.push(...forks);
    const before = (a as FakeNode).frames.length;
    const handles = await Promise.all(forks.map((f, i) => f.acquire(`us-east:fork${i}`)));
    expect(new Set(forks.map((f) => f.clientId)).size).toBe(8);
    expect(new Set(handles.map((h) => h.sessionId)).size).toBe(8);
    expect((a as FakeNode).connections).toBe(1);
    // 8 openSession requests, then 8 acquires: far fewer frames than requests.
    expect((a as FakeNode).frames.slice(before).length).toBeLessThanOrEqual(4);
    await Promise.all(handles.map((h) => h.release()));
  });

  it("lets forks contend for one lock: a fork waits in the queue like any other client", async () => {
    await region(1);
    const root = await connect();
    const [first, second] = [root.fork(), root.fork()];
    clients.push(first, second);
    const held = await first.acquire("us-east:shared-queue");
    const waiting = second.acquire("us-east:shared-queue", { waitMs: 10_000 });
    await vi.waitFor(() => expect(state.waiters.get("us-east:shared-queue")?.length).toBe(1), { timeout: 5_000, interval: 20 });
    await held.release();
    const granted = await waiting;
    expect(granted.token).toBeGreaterThan(held.token);
  });

  it("delivers a sessionExpired push to the fork whose session it names, and to no other", async () => {
    const [a] = await region(1);
    const root = await connect();
    const [victim, bystander] = [root.fork(), root.fork()];
    clients.push(victim, bystander);
    const lostHandle = await victim.acquire("us-east:push-victim");
    const keptHandle = await bystander.acquire("us-east:push-bystander");
    const lost = state.endSession(lostHandle.sessionId);
    (a as FakeNode).push({ push: "sessionExpired", region: "us-east", sessionId: lostHandle.sessionId, lost });
    await vi.waitFor(() => expect(lostHandle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    expect(keptHandle.lost.aborted).toBe(false);
    await keptHandle.release();
  });

  it("keeps the socket open until the last client sharing it is closed, whatever the order", async () => {
    const [a] = await region(1);
    const root = await connect();
    const fork = root.fork({ owner: "forked" });
    clients.push(fork);
    await root.close();
    await expect(root.acquire("us-east:after-root")).rejects.toMatchObject({ code: "CLOSED" });
    expect(() => root.fork()).toThrow(/closed/);
    const handle = await fork.acquire("us-east:after-root");
    expect(state.holders.get("us-east:after-root")?.owner).toBe("forked");
    expect((a as FakeNode).connections).toBe(1);
    await handle.release();
    await fork.close();
    // The root never opened a session; the fork closed its own over the shared socket.
    expect(sent(a as FakeNode, "closeSession")).toHaveLength(1);
    await vi.waitFor(() => expect((a as FakeNode).connections).toBe(0), { timeout: 5_000, interval: 20 });
  });
});

describe("close", () => {
  it("closes its sessions, fires lost with CLOSED, and refuses later calls", async () => {
    const [a] = await region(1);
    const client = await connect();
    const handle = await client.acquire("us-east:cl");
    await client.close();
    expect(sent(a as FakeNode, "closeSession")).toHaveLength(1);
    expect(handle.lost.aborted).toBe(true);
    expect(isGeolockError(handle.lost.reason, "CLOSED")).toBe(true);
    await expect(client.status("us-east:cl")).rejects.toMatchObject({ code: "CLOSED" });
    await vi.waitFor(() => expect((a as FakeNode).connections).toBe(0), { timeout: 5_000, interval: 20 });
  });

  it("leaves no timer or socket behind", async () => {
    await region(1);
    const count = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "TCPSocketWrap").length;
    // Counted between sleeps, so the test's own sleep timer has fired and is not counted.
    const settled = async (target: (n: number) => boolean): Promise<number> => {
      for (let i = 0; i < 250 && !target(count()); i++) await new Promise((r) => setTimeout(r, 20));
      return count();
    };
    const before = await settled((n) => n === 0);
    const client = await connect({ ttlMs: 600 });
    const handle = await client.acquire("us-east:leak");
    await client.acquire("us-east:leak2", { waitMs: 0 });
    await handle.release();
    expect(count()).toBeGreaterThan(before);
    await client.close();
    expect(await settled((n) => n <= before)).toBe(before);
  });

  it("rejects a pending wait with CLOSED", async () => {
    await region(1);
    const holder = await connect();
    const waiter = await connect();
    await holder.acquire("us-east:pw");
    const waiting = waiter.acquire("us-east:pw", { waitMs: 10_000 }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(state.waiters.get("us-east:pw")?.length).toBe(1), { timeout: 5_000, interval: 20 });
    await waiter.close();
    expect(await waiting).toMatchObject({ code: "CLOSED" });
  });
});
