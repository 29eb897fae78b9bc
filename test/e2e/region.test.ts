// A real region: three node processes on 127.0.0.1 with their own data directories.
// Elects and commits; survives kill -9 of its leader with nothing committed lost; a
// restarted node catches up; a full restart keeps every lock; a node without the cluster
// secret cannot take part. Failover time is printed, and measured by `npm run bench`;
// a test never asserts a duration.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, waitFor, type NodeProcess } from "../helpers/cluster.js";
import { RawClient } from "../helpers/raw-client.js";

const REGION = "us-east";
let cluster: TestCluster;
let clientSeq = 0;
const clientId = `region-e2e-${process.pid}`;

async function clientOf(node: NodeProcess): Promise<RawClient> {
  return RawClient.connect(node.clientUrl);
}

interface Granted {
  readonly name: string;
  readonly token: number;
}

async function openSession(client: RawClient, ttlMs = 60_000): Promise<number> {
  const response = await client.call({ op: "openSession", region: REGION, ttlMs, clientId, seq: ++clientSeq });
  if (!response.ok) throw new Error(`openSession failed: ${JSON.stringify(response.error)}`);
  return (response.result as { sessionId: number }).sessionId;
}

async function acquire(client: RawClient, sessionId: number, name: string): Promise<Granted> {
  const response = await client.call({ op: "acquire", name, sessionId, mode: "exclusive", waitMs: 0, owner: "e2e", clientId, seq: ++clientSeq });
  if (!response.ok) throw new Error(`acquire ${name} failed: ${JSON.stringify(response.error)}`);
  const answer = response.result as { type: string; token: number };
  expect(answer.type).toBe("granted");
  return { name, token: answer.token };
}

async function holderToken(client: RawClient, name: string): Promise<number | null> {
  const response = await client.call({ op: "status", name });
  if (!response.ok) throw new Error(`status ${name} failed: ${JSON.stringify(response.error)}`);
  return (response.result as { token: number | null }).token;
}

/** Retries status reads across nodes until one answers (a new leader may still be settling). */
async function tokensEverywhere(granted: readonly Granted[]): Promise<(number | null)[]> {
  const running = cluster.regionNodes(REGION).filter((n) => n.running);
  const result = await waitFor(async () => {
    for (const node of running) {
      const client = await clientOf(node).catch(() => undefined);
      if (client === undefined) continue;
      try {
        return await Promise.all(granted.map((g) => holderToken(client, g.name)));
      } catch {
        // not settled yet; try the next node, then poll again
      } finally {
        client.close();
      }
    }
    return undefined;
  }, 15_000, 200);
  if (result === undefined) throw new Error("no node could serve status reads");
  return result;
}

beforeAll(async () => {
  cluster = new TestCluster({ regions: [REGION], nodesPerRegion: 3, basePort: 16000 });
  cluster.startAll();
  await cluster.waitForLeader(REGION, 15_000);
});

afterAll(async () => {
  await cluster?.destroy();
});

describe("a three-node region of real processes", () => {
  const committed: Granted[] = [];

  it("elects one leader and commits writes through any node", async () => {
    for (const node of cluster.regionNodes(REGION)) {
      const client = await clientOf(node);
      const session = await openSession(client);
      for (let i = 0; i < 5; i++) committed.push(await acquire(client, session, `${REGION}:via-${node.id}-${i}`));
      client.close();
    }
    const tokens = committed.map((g) => g.token);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(await tokensEverywhere(committed)).toEqual(tokens);
  });

  it("elects a new leader after kill -9 of the leader, and loses no committed write", async () => {
    const leader = await cluster.waitForLeader(REGION);
    const killedAt = Date.now();
    await leader.kill();
    const next = await cluster.waitForLeader(REGION, 10_000);
    console.log(`failover: new leader ${next.name} agreed ${Date.now() - killedAt} ms after kill -9 of ${leader.name}`);
    expect(next.name).not.toBe(leader.name);
    expect(await tokensEverywhere(committed)).toEqual(committed.map((g) => g.token));

    const client = await clientOf(next);
    const session = await openSession(client);
    committed.push(await acquire(client, session, `${REGION}:after-failover`));
    client.close();
    await leader.start();
  });

  it("lets the restarted old leader catch up with everything committed since", async () => {
    const leader = await cluster.waitForLeader(REGION);
    const target = (await leader.status())?.commit ?? 0;
    const restarted = cluster.regionNodes(REGION).filter((n) => n !== leader);
    const caughtUp = await waitFor(async () => {
      const statuses = await Promise.all(restarted.map((n) => n.status()));
      return statuses.every((s) => s !== undefined && s.applied >= target) ? true : undefined;
    }, 15_000, 100);
    expect(caughtUp).toBe(true);
  });

  it("keeps every lock when all three nodes are killed and restarted", async () => {
    const before = await tokensEverywhere(committed);
    await cluster.stopAll();
    cluster.startAll();
    await cluster.waitForLeader(REGION, 15_000);
    expect(await tokensEverywhere(committed)).toEqual(before);
    expect(before).toEqual(committed.map((g) => g.token));
  });

  it("refuses a node that does not know the cluster secret", async () => {
    const outsider = cluster.node(REGION, 3);
    await outsider.kill();
    outsider.start({ GEOLOCK_SECRET: "not-the-cluster-secret-at-all" });
    const leader = await cluster.waitForLeader(REGION, 10_000).catch(() => undefined);
    // The two nodes with the secret keep a leader; the outsider never hears from it.
    const insiders = cluster.regionNodes(REGION).filter((n) => n !== outsider);
    const agreed = await waitFor(async () => {
      const statuses = await Promise.all(insiders.map((n) => n.status()));
      const lead = statuses.find((s) => s?.role === "leader");
      return lead !== undefined && statuses.every((s) => s?.leader === lead.node) ? lead : undefined;
    }, 10_000, 100);
    expect(agreed).toBeDefined();
    expect(leader?.name).not.toBe(outsider.name);
    // The insiders go on committing; the outsider learns none of it.
    const outsiderBefore = (await outsider.status())?.applied ?? 0;
    const client = await clientOf(insiders[0] as NodeProcess);
    const session = await openSession(client);
    committed.push(await acquire(client, session, `${REGION}:without-outsider`));
    client.close();
    await new Promise((r) => setTimeout(r, 1_000));
    const outsiderStatus = await outsider.status();
    expect(outsiderStatus?.leader).toBeNull();
    expect(outsiderStatus?.role).not.toBe("leader");
    expect(outsiderStatus?.applied).toBe(outsiderBefore);
    const leaderStatus = await insiders.find((n) => n.name === agreed?.node)?.status();
    expect(leaderStatus?.commit ?? 0).toBeGreaterThan(outsiderBefore);
    const insiderLogs = insiders.map((n) => n.log()).join("\n");
    expect(insiderLogs).toMatch(/handshake refused|refused our handshake|failed our handshake/);
  });
});
