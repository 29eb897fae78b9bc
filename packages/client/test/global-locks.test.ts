// Global locks in the client library, against fake nodes: the grant's lease counted from the
// first send of the granting request, renewals that keep it past its TTL, `lost` at the
// conservative deadline when renewals fail (NO_QUORUM) or NOT_HOLDER, NO_QUORUM surfaced
// as a typed error, try-lock and waiting, release and close. No duration is asserted; every
// wait is bounded by vi.waitFor or the test timeout.

import type { ClientRequest } from "@geolock/transport";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GeolockClient, isGeolockError, safetyMarginMs, type Clock, type ConnectOptions } from "../src/index.js";
import { err, FakeLockState, startRegion, type FakeNode } from "./fake-node.js";

let node: FakeNode;
let clients: GeolockClient[] = [];
let state: FakeLockState;

async function start(): Promise<FakeNode> {
  state = new FakeLockState();
  [node] = (await startRegion("us-east", 1, state)) as [FakeNode];
  return node;
}

async function connect(options: ConnectOptions = {}, clock?: Clock): Promise<GeolockClient> {
  const client = await GeolockClient.connect({ endpoints: [node.url], ttlMs: 1_200, requestTimeoutMs: 3_000, ...options }, clock === undefined ? {} : { clock });
  clients.push(client);
  return client;
}

function sent(op: ClientRequest["op"]): ClientRequest[] {
  return node.requests.filter((r) => r.op === op);
}

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await node?.close();
  state?.stop();
  clients = [];
});

describe("global locks", () => {
  it("acquires with a fencing token, keeps the lock past its TTL by renewing, and releases it", async () => {
    await start();
    const client = await connect();
    const handle = await client.acquire("global:config");
    expect(handle.region).toBe("global");
    expect(handle.token).toBeGreaterThanOrEqual(1);
    await vi.waitFor(() => expect(sent("globalRenew").length).toBeGreaterThanOrEqual(4), { timeout: 5_000, interval: 20 });
    expect(handle.state).toBe("held");
    await handle.release();
    expect(handle.state).toBe("released");
    expect(sent("globalRelease")).toMatchObject([{ name: "global:config", token: handle.token }]);
    expect(state.globalHolders.has("global:config")).toBe(false);
    // Seqs on one key increase: one request per key in flight.
    const seqs = node.requests.filter((r) => "name" in r && r.name === "global:config" && "seq" in r).map((r) => (r as { seq: number }).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("counts the lease from the first send of the granting request, not from a retry", async () => {
    await start();
    let now = 10_000;
    const clock: Clock = { now: () => now };
    const client = await connect({ ttlMs: 5_000, retry: { attemptTimeoutMs: 50 } }, clock);
    let dropped = false;
    node.intercept = (r) => {
      if (r.op !== "globalAcquire" || dropped) return undefined;
      dropped = true;
      now += 700; // the first attempt is lost; the retry (same seq) is sent 700 ms later
      return "drop";
    };
    const handle = await client.acquire("global:first-send");
    expect(sent("globalAcquire")).toHaveLength(2);
    expect(new Set(sent("globalAcquire").map((r) => (r as { seq: number }).seq)).size).toBe(1);
    expect(handle.remainingMs()).toBe(5_000 - safetyMarginMs(5_000) - 700);
  });

  it("fires lost by its deadline when renewals answer NO_QUORUM, and release then rejects with LOCK_LOST", async () => {
    await start();
    const client = await connect({ ttlMs: 1_000 });
    const handle = await client.acquire("global:cut-off");
    node.intercept = (r) => (r.op === "globalRenew" ? err("NO_QUORUM", "no majority of regions") : undefined);
    await vi.waitFor(() => expect(handle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    expect(isGeolockError(handle.lost.reason, "LOCK_LOST")).toBe(true);
    expect(sent("globalRenew").length).toBeGreaterThanOrEqual(2);
    await expect(handle.release()).rejects.toMatchObject({ code: "LOCK_LOST" });
    // lost frees the name for this client again
    node.intercept = () => undefined;
    await expect(client.acquire("global:cut-off")).resolves.toMatchObject({ token: handle.token });
  });

  it("fires lost when a renewal answers NOT_HOLDER (the majority expired it)", async () => {
    await start();
    const client = await connect({ ttlMs: 3_000 });
    const handle = await client.acquire("global:expired");
    const deadline = performance.now() + handle.remainingMs();
    const margin = new Promise<number>((resolve) => handle.lost.addEventListener("abort", () => resolve(deadline - performance.now()), { once: true }));
    state.globalHolders.delete("global:expired");
    await vi.waitFor(() => expect(handle.lost.aborted).toBe(true), { timeout: 5_000, interval: 20 });
    // Fired by the NOT_HOLDER answer, well before the lease's own deadline would have fired it.
    expect(await margin).toBeGreaterThan(50);
    expect(handle.lost.reason).toMatchObject({ code: "LOCK_LOST" });
  });

  it("surfaces NO_QUORUM on acquire as a typed error, without retrying it", async () => {
    await start();
    const client = await connect();
    node.intercept = (r) => (r.op === "globalAcquire" ? err("NO_QUORUM", "no majority of regions") : undefined);
    const error: unknown = await client.acquire("global:nq").catch((e: unknown) => e);
    expect(isGeolockError(error, "NO_QUORUM")).toBe(true);
    expect(sent("globalAcquire")).toHaveLength(1);
    node.intercept = () => undefined;
    await expect(client.acquire("global:nq")).resolves.toMatchObject({ name: "global:nq" });
  });

  it("refuses a try-lock held by another client with HELD, and a wait gets it once released", async () => {
    await start();
    const a = await connect({ owner: "a" });
    const b = await connect({ owner: "b" });
    const held = await a.acquire("global:contended");
    await expect(b.acquire("global:contended")).rejects.toMatchObject({ code: "HELD", details: { holders: [{ owner: "a", token: held.token }] } });
    const waiting = b.acquire("global:contended", { waitMs: 4_000 });
    await vi.waitFor(() => expect(sent("globalAcquire").length).toBeGreaterThanOrEqual(4), { timeout: 5_000, interval: 20 });
    await held.release();
    const granted = await waiting;
    expect(granted.token).toBeGreaterThan(held.token);
  });

  it("refuses shared mode and a second acquire of a held name", async () => {
    await start();
    const client = await connect();
    await expect(client.acquire("global:s", { mode: "shared" })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await client.acquire("global:twice");
    await expect(client.acquire("global:twice")).rejects.toMatchObject({ code: "ALREADY_HELD" });
  });

  it("reads a global lock's status as the node's region applied it", async () => {
    await start();
    const client = await connect({ owner: "reader" });
    const handle = await client.acquire("global:seen");
    const status = await client.globalStatus("global:seen");
    expect(status).toMatchObject({ name: "global:seen", token: handle.token, holder: { owner: "reader", clientId: client.clientId } });
    await expect(client.status("global:seen")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("releases its global locks when closed; handles fire lost with CLOSED", async () => {
    await start();
    const client = await connect();
    const handle = await client.acquire("global:closing");
    await client.close();
    expect(handle.lost.aborted).toBe(true);
    expect(isGeolockError(handle.lost.reason, "CLOSED")).toBe(true);
    expect(sent("globalRelease")).toHaveLength(1);
    expect(state.globalHolders.size).toBe(0);
  });
});
