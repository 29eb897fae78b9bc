// Global locks end to end: 9 real node processes (3 regions x 3 nodes), region r node n on
// its own loopback address 127.0.0.(10 r + n) and port 210rn, with the realistic WAN preset
// (one way: us-east/us-west 30 ms, us-east/eu-west 40 ms, us-west/eu-west 70 ms). Partitions
// are nftables rules between the nodes' addresses (table geolock_global_e2e, always deleted
// afterwards). Shows: grants through any node of any region with tokens strictly increasing
// across regions; a region cut off from both others answers NO_QUORUM and never grants while
// the other two keep granting, and a holder in it is expired by the majority (after its own
// client library reported the lock lost); after healing the cut-off region serves the
// current state; with one region killed global locks go on; with two killed every acquire
// fails cleanly; the geolock CLI takes, shows and watches global locks; a watcher in one
// region sees every grant and release decided through the others. No test asserts a
// duration; every wait has a deadline.
//
// Needs the build (npx tsc -b packages/server packages/client && node scripts/write-entry.mjs)
// and nft as root (Debian package nftables).

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GeolockClient, type GlobalWatchEvent, type LockHandle } from "../../packages/client/src/index.js";
import type { ClientRequestBody, ClientResponse } from "../../packages/transport/src/index.js";
import { CliProcess, killAllCli, runCli } from "../helpers/cli-process.js";
import { TestCluster, waitFor, type NodeProcess } from "../helpers/cluster.js";
import { PacketFilter } from "../helpers/nft.js";
import { RawClient } from "../helpers/raw-client.js";

const REGIONS = ["us-east", "us-west", "eu-west"] as const;
type Region = (typeof REGIONS)[number];
const NFT_TABLE = "geolock_global_e2e";
/** A global request's own deadline: past it the node answers NO_QUORUM. */
const QUORUM_TIMEOUT_MS = 1_500;
/** The raw client's own deadline: an answer must come well before it. */
const CALL_TIMEOUT_MS = 10_000;

let cluster: TestCluster;
let filter: PacketFilter | undefined;
let seq = 0;
const clients: GeolockClient[] = [];

interface GlobalStatus {
  readonly applied: number;
  readonly token: number | null;
  readonly nextToken: number;
  readonly holder: { readonly clientId: string; readonly region: string; readonly token: number } | null;
}

function runningIn(region: Region): NodeProcess[] {
  return cluster.regionNodes(region).filter((n) => n.running);
}

/** One request through `node` (default: the region's first running node). */
async function call(region: Region, body: ClientRequestBody, node?: NodeProcess): Promise<ClientResponse> {
  const target = node ?? runningIn(region)[0];
  if (target === undefined) throw new Error(`no running node in ${region}`);
  const client = await RawClient.connect(target.clientUrl);
  try {
    return await client.call(body, CALL_TIMEOUT_MS);
  } finally {
    client.close();
  }
}

function acquire(region: Region, name: string, clientId: string, node?: NodeProcess, ttlMs = 60_000): Promise<ClientResponse> {
  return call(region, { op: "globalAcquire", name, ttlMs, owner: `${clientId}@${region}`, timeoutMs: QUORUM_TIMEOUT_MS, clientId, seq: ++seq }, node);
}

function release(region: Region, name: string, clientId: string, token: number): Promise<ClientResponse> {
  return call(region, { op: "globalRelease", name, token, timeoutMs: QUORUM_TIMEOUT_MS, clientId, seq: ++seq });
}

function grantedToken(response: ClientResponse): number {
  if (!response.ok) throw new Error(`expected a grant, got ${JSON.stringify(response.error)}`);
  const result = response.result as { type: string; token: number };
  if (result.type !== "granted") throw new Error(`expected a grant, got ${JSON.stringify(result)}`);
  return result.token;
}

/** Acquire then release through `region`: the token granted. */
async function cycle(region: Region, name: string, clientId: string, node?: NodeProcess): Promise<number> {
  const token = grantedToken(await acquire(region, name, clientId, node));
  const released = await release(region, name, clientId, token);
  expect(released).toMatchObject({ ok: true, result: { type: "released", token } });
  return token;
}

async function statusAt(node: NodeProcess, name: string): Promise<GlobalStatus | undefined> {
  const client = await RawClient.connect(node.clientUrl).catch(() => undefined);
  if (client === undefined) return undefined;
  try {
    const response = await client.call({ op: "status", name }, 2_000);
    return response.ok ? (response.result as GlobalStatus) : undefined;
  } finally {
    client.close();
  }
}

/** Waits until every running node of `regions` shows `expected` (holder token and next token) for `name`. */
async function convergedOn(regions: readonly Region[], name: string, expected: { token: number | null; nextToken: number }, timeoutMs = 30_000): Promise<void> {
  let last: unknown;
  const done = await waitFor(async () => {
    const nodes = regions.flatMap(runningIn);
    const seen = await Promise.all(nodes.map((n) => statusAt(n, name)));
    last = seen.map((s, i) => `${nodes[i]?.name}: token ${s?.token} next ${s?.nextToken}`);
    return seen.every((s) => s !== undefined && s.token === expected.token && s.nextToken === expected.nextToken) ? true : undefined;
  }, timeoutMs, 200);
  if (done === undefined) throw new Error(`${name} did not converge on ${JSON.stringify(expected)} in ${regions.join(", ")}; last ${JSON.stringify(last)}`);
}

function addressesOf(region: Region): string[] {
  return cluster.regionNodes(region).map((n) => n.host);
}

beforeAll(async () => {
  filter = PacketFilter.open(NFT_TABLE);
  cluster = new TestCluster({
    regions: REGIONS,
    nodesPerRegion: 3,
    basePort: 21000,
    host: (r, n) => `127.0.0.${10 * r + n}`,
    env: { GEOLOCK_WAN: "realistic" },
  });
  cluster.startAll();
  for (const region of REGIONS) await cluster.waitForLeader(region, 20_000);
}, 60_000);

afterEach(async () => {
  filter?.heal();
  await killAllCli();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  filter?.heal();
  await cluster?.destroy();
});

describe("global locks across three regions of real processes, with WAN latency", () => {
  it("grants through any node of any region, with tokens strictly increasing across regions, and every region serves the state", async () => {
    const tokens: number[] = [];
    for (let i = 0; i < 6; i++) {
      const region = REGIONS[i % 3] as Region;
      const node = cluster.node(region, (i % 3) + 1);
      tokens.push(await cycle(region, "global:shared", `writer-${i}`, node));
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);

    const held = grantedToken(await acquire("us-west", "global:held", "holder"));
    const refused = await acquire("eu-west", "global:held", "other");
    expect(refused).toMatchObject({ ok: true, result: { type: "held", token: held, holder: { region: "us-west", clientId: "holder" } } });
    await convergedOn(REGIONS, "global:shared", { token: null, nextToken: (tokens[tokens.length - 1] as number) + 1 });
    await convergedOn(REGIONS, "global:held", { token: held, nextToken: held + 1 });
  });

  it("shows a watcher in another region every grant and release of a global key, with the holder's region and why it went", async () => {
    const name = "global:watched";
    const watcher = await GeolockClient.connect({ endpoints: cluster.regionNodes("eu-west").map((n) => n.clientUrl), requestTimeoutMs: 10_000 });
    clients.push(watcher);
    const events: GlobalWatchEvent[] = [];
    await watcher.watchGlobal(name, (e) => events.push(e));
    expect(events).toEqual([{ type: "status", index: 0, status: expect.objectContaining({ holder: null, token: null }) }]);
    const first = await cycle("us-east", name, "watched-a");
    // Held through us-west with a short lease and never renewed: the regions expire it.
    const second = grantedToken(await acquire("us-west", name, "watched-b", undefined, 2_000));
    const seen = await waitFor(() => (events.length >= 5 ? events.slice(1, 5) : undefined), 30_000);
    expect(seen?.map((e) => (e.type === "status" ? "status" : `${e.type} ${e.holder.clientId}@${e.holder.region} #${e.token}${e.type === "released" ? ` ${e.reason}` : ""}`))).toEqual([
      `acquired watched-a@us-east #${first}`,
      `released watched-a@us-east #${first} released`,
      `acquired watched-b@us-west #${second}`,
      `released watched-b@us-west #${second} expired`,
    ]);
    const indexes = events.map((e) => e.index);
    expect([...indexes].sort((x, y) => x - y)).toEqual(indexes);
    expect(events.length).toBe(5);
  });

  it("works from the geolock CLI: acquire holds and releases a global lock, status shows the region's view", async () => {
    const endpoints = ["--json", "--endpoints", cluster.regionNodes("us-west").map((n) => n.clientUrl).join(",")];
    const held = await runCli(["acquire", "global:cli", "--hold", "1s", "--ttl", "3s", "--owner", "cli", ...endpoints]);
    expect(held.code).toBe(0);
    const acquired = held.events.find((e) => e["event"] === "acquired");
    expect(acquired).toMatchObject({ name: "global:cli", region: "global" });
    expect(held.events.some((e) => e["event"] === "released")).toBe(true);
    // The region's applied view may trail the decision by a commit: read until it shows the release.
    const status = await waitFor(async () => {
      const run = await runCli(["status", "global:cli", ...endpoints]);
      return run.code === 0 && run.events[0]?.["holder"] === null ? run.events[0] : undefined;
    }, 15_000, 100);
    expect(status).toMatchObject({ event: "status", scope: "global", name: "global:cli", region: "us-west", nextToken: (acquired?.["token"] as number) + 1 });
  });

  it("prints a global lock's changes with geolock watch", async () => {
    const endpoints = ["--json", "--endpoints", cluster.regionNodes("us-east").map((n) => n.clientUrl).join(",")];
    const watch = new CliProcess(["watch", "global:cli-watched", ...endpoints]);
    expect(await watch.event("status", 15_000)).toMatchObject({ scope: "global", name: "global:cli-watched", holder: null });
    const token = await cycle("eu-west", "global:cli-watched", "cli-watched");
    expect(await watch.event("acquired", 15_000)).toMatchObject({ name: "global:cli-watched", token, holder: { clientId: "cli-watched", region: "eu-west" } });
    expect(await watch.event("released", 15_000)).toMatchObject({ token, reason: "released" });
    watch.signal("SIGINT");
    expect(await watch.exited(15_000)).toEqual({ code: 0, signal: null });
  });

  it("cut off eu-west: it answers NO_QUORUM and never grants, the others keep granting and expire its holder; healed, it serves the current state", async () => {
    // Before the cut: eu-west owns a key (it decided it last) and a client there holds one.
    await cycle("eu-west", "global:eu-owned", "eu-owner");
    const euClient = await GeolockClient.connect({ endpoints: cluster.regionNodes("eu-west").map((n) => n.clientUrl), ttlMs: 2_000, requestTimeoutMs: 5_000, owner: "eu-holder" });
    clients.push(euClient);
    const euHandle: LockHandle = await euClient.acquire("global:eu-holder");

    filter?.cut([
      [addressesOf("eu-west"), addressesOf("us-east")],
      [addressesOf("eu-west"), addressesOf("us-west")],
    ]);

    const inCut = await Promise.all([acquire("eu-west", "global:eu-owned", "eu-cut-1"), acquire("eu-west", "global:new-in-cut", "eu-cut-2"), acquire("eu-west", "global:shared", "eu-cut-3")]);
    for (const response of inCut) expect(response).toMatchObject({ ok: false, error: { code: "NO_QUORUM" } });

    const majorityTokens: number[] = [];
    for (let i = 0; i < 3; i++) majorityTokens.push(await cycle(i % 2 === 0 ? "us-east" : "us-west", `global:majority-${i}`, `majority-${i}`));
    const taken = grantedToken(await acquire("us-east", "global:eu-owned", "us-taker"));

    // The holder in eu-west cannot renew: the majority expires it after its TTL; its own
    // library has reported the lock lost by then.
    let expiredGrant: number | undefined;
    for (let i = 0; i < 200 && expiredGrant === undefined; i++) {
      const response = await acquire("us-east", "global:eu-holder", "us-successor");
      if (response.ok && (response.result as { type: string }).type === "granted") {
        expect(euHandle.lost.aborted).toBe(true);
        expiredGrant = grantedToken(response);
      } else {
        expect(response).toMatchObject({ ok: true, result: { type: "held", token: euHandle.token } });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    expect(expiredGrant).toBeGreaterThan(euHandle.token);

    filter?.heal();
    await convergedOn(REGIONS, "global:eu-owned", { token: taken, nextToken: taken + 1 });
    await convergedOn(REGIONS, "global:eu-holder", { token: expiredGrant as number, nextToken: (expiredGrant as number) + 1 });
    for (const [i, token] of majorityTokens.entries()) await convergedOn(["eu-west"], `global:majority-${i}`, { token: null, nextToken: token + 1 });
    // What eu-west tried during the cut was never granted.
    const fresh = await statusAt(runningIn("us-east")[0] as NodeProcess, "global:new-in-cut");
    expect(fresh).toBeDefined();
    expect(fresh?.holder).toBeNull();
    // And eu-west grants again once its links are back.
    const again = await waitFor(async () => {
      const response = await acquire("eu-west", "global:after-heal", "eu-again");
      return response.ok ? grantedToken(response) : undefined;
    }, 30_000, 200);
    expect(again).toBeGreaterThanOrEqual(1);
  });

  it("goes on when a whole region is killed, and the restarted region catches up", async () => {
    const before = await cycle("us-west", "global:west-owned", "west-owner");
    await Promise.all(cluster.regionNodes("us-west").map((n) => n.kill()));
    const after = await cycle("us-east", "global:west-owned", "east-taker");
    expect(after).toBeGreaterThan(before);
    const euToken = await cycle("eu-west", "global:west-owned", "eu-taker");
    expect(euToken).toBeGreaterThan(after);
    await cycle("eu-west", "global:while-west-down", "eu-writer");

    for (const node of cluster.regionNodes("us-west")) node.start();
    await cluster.waitForLeader("us-west", 20_000);
    await convergedOn(["us-west"], "global:west-owned", { token: null, nextToken: euToken + 1 });
  });

  it("fails every global acquire cleanly, none hanging, when two regions are down", async () => {
    await cycle("us-east", "global:east-owned", "east-owner");
    await Promise.all([...cluster.regionNodes("us-west"), ...cluster.regionNodes("eu-west")].map((n) => n.kill()));
    const names = ["global:east-owned", "global:fresh-a", "global:fresh-b", "global:shared", "global:east-owned-2"];
    const responses = await Promise.all(names.map((name, i) => acquire("us-east", name, `lonely-${i}`, cluster.node("us-east", (i % 3) + 1))));
    // Refused by the nodes themselves (UNAVAILABLE or TIMEOUT would be a lost connection or no answer).
    for (const response of responses) expect(response.ok ? "granted" : response.error.code).toBe("NO_QUORUM");
    // And the lone region's nodes are still up and serving.
    for (const node of cluster.regionNodes("us-east")) {
      expect(node.running).toBe(true);
      expect(await node.status()).toBeDefined();
    }
  });
});
