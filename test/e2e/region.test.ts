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

/** The holders' tokens as every running node answers them (retried while a new leader settles); all must agree. */
async function tokensEverywhere(granted: readonly Granted[]): Promise<(number | null)[]> {
  const running = cluster.regionNodes(REGION).filter((n) => n.running);
  const readAt = async (node: NodeProcess): Promise<(number | null)[] | undefined> => {
    const client = await clientOf(node).catch(() => undefined);
    if (client === undefined) return undefined;
    try {
      return await Promise.all(granted.map((g) => holderToken(client, g.name)));
    } catch {
      return undefined; // not settled yet: poll again
    } finally {
      client.close();
    }
  };
  const perNode = await waitFor(async () => {
    const answers = await Promise.all(running.map(readAt));
    return answers.every((a) => a !== undefined) ? (answers as (number | null)[][]) : undefined;
  }, 15_000, 200);
  if (perNode === undefined) throw new Error(`not every one of ${running.map((n) => n.name).join(", ")} could serve status reads`);
  for (const answer of perNode) expect(answer).toEqual(perNode[0]);
  return perNode[0] as (number | null)[];
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
  /** The leader the failover test killed and started again. */
  let killed: NodeProcess | undefined;

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
    killed = leader;
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
    const restarted = killed as NodeProcess;
    expect(restarted.running).toBe(true);
    const leader = await cluster.waitForLeader(REGION);
    const target = (await leader.status())?.commit;
    // At least one entry per lock granted so far (plus sessions and no-ops).
    expect(target).toBeGreaterThanOrEqual(committed.length);
    const caughtUp = await waitFor(async () => {
      const status = await restarted.status();
      return status !== undefined && status.applied >= (target as number) ? status : undefined;
    }, 15_000, 100);
    expect(caughtUp?.applied).toBeGreaterThanOrEqual(target as number);
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
    // The two nodes with the secret keep a leader; the outsider never hears from it.
    const insiders = cluster.regionNodes(REGION).filter((n) => n !== outsider);
    const agreed = await waitFor(async () => {
      const statuses = await Promise.all(insiders.map((n) => n.status()));
      const lead = statuses.find((s) => s?.role === "leader");
      return lead !== undefined && statuses.every((s) => s?.leader === lead.node) ? lead : undefined;
    }, 10_000, 100);
    expect(agreed).toBeDefined();
    expect(agreed?.node).not.toBe(outsider.name);
    // The insiders go on committing; the outsider learns none of it.
    // The outsider replays its own log on start; once it has, nothing more may reach it.
    const settled = await waitFor(async () => {
      const status = await outsider.status();
      return status !== undefined && status.applied === status.commit ? status : undefined;
    }, 10_000, 50);
    expect(settled).toBeDefined();
    const outsiderBefore = (settled as NonNullable<typeof settled>).applied;
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
