// Locks end to end: one real region of three node processes (ports 170rn), the client
// library in this process, and the `geolock` CLI as separate processes that can be killed
// and paused. Shows: a killed holder's lock goes to the waiter after its TTL with a larger
// token; a leader killed during acquires still yields exactly one grant per acquire; a
// paused holder learns it lost the lock and its stale token is refused by a fenced
// resource; `geolock run` passes the token and the exit code, and stops its command when
// the lock is lost; a dead holder's lock still goes to the waiter while leaders keep
// changing faster than its TTL; a watcher sees every grant and release in order, and its
// watch survives the death of the node that served it. No test asserts a duration; every
// wait has a deadline.
//
// Needs the build: npx tsc -b packages/client packages/server && node scripts/write-entry.mjs

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FencedResource, GeolockClient, type LockHandle, type LockStatus, type WatchEvent } from "../../packages/client/src/index.js";
import { TestCluster, waitFor } from "../helpers/cluster.js";
import { CliProcess, killAllCli, runCli } from "../helpers/cli-process.js";

const REGION = "us-east";
let cluster: TestCluster;
let endpoints: string[];
const clients: GeolockClient[] = [];

async function client(options: { ttlMs?: number; endpoints?: string[] } = {}): Promise<GeolockClient> {
  const c = await GeolockClient.connect({ endpoints: options.endpoints ?? endpoints, ttlMs: options.ttlMs ?? 5_000, requestTimeoutMs: 15_000 });
  clients.push(c);
  return c;
}

/** CLI arguments with --json and this cluster's endpoints, placed before a `run` command's "--". */
function cliArgs(...args: string[]): string[] {
  const split = args.includes("--") ? args.indexOf("--") : args.length;
  return [...args.slice(0, split), "--json", "--endpoints", endpoints.join(","), ...args.slice(split)];
}

/** Polls a linearizable status until `accept` holds (bounded). */
async function statusUntil(c: GeolockClient, name: string, accept: (s: LockStatus) => boolean, timeoutMs = 15_000): Promise<LockStatus> {
  let last: LockStatus | undefined;
  const found = await waitFor(async () => {
    last = await c.status(name).catch(() => undefined);
    return last !== undefined && accept(last) ? last : undefined;
  }, timeoutMs);
  if (found === undefined) throw new Error(`status of ${name} never matched; last ${JSON.stringify(last)}`);
  return found;
}

beforeAll(async () => {
  cluster = new TestCluster({ regions: [REGION], nodesPerRegion: 3, basePort: 17000 });
  endpoints = cluster.regionNodes(REGION).map((n) => n.clientUrl);
  cluster.startAll();
  await cluster.waitForLeader(REGION, 15_000);
});

afterEach(async () => {
  await killAllCli();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await killAllCli();
  await cluster?.destroy();
});

describe("locks over real nodes", () => {
  it("hands a killed holder's lock to the waiter after its TTL, with a larger token", async () => {
    const name = "us-east:e2e-killed-holder";
    const holder = new CliProcess(cliArgs("acquire", name, "--ttl", "2s"));
    const acquired = await holder.event("acquired", 15_000);
    const waiter = await client();
    const waiting = waiter.acquire(name, { waitMs: 30_000 });
    await statusUntil(waiter, name, (s) => s.waiters.length === 1 && s.token === acquired["token"]);
    holder.signal("SIGKILL");
    const handle = await waiting;
    expect(handle.token).toBeGreaterThan(acquired["token"] as number);
    const status = await waiter.status(name);
    expect(status.holders.map((h) => [h.sessionId, h.token])).toEqual([[handle.sessionId, handle.token]]);
  });

  it("grants exactly once per acquire when the leader is killed with acquires in flight", async () => {
    const leader = await cluster.waitForLeader(REGION);
    const leaderFirst = [leader.clientUrl, ...endpoints.filter((u) => u !== leader.clientUrl)];
    const holder = await client({ endpoints: leaderFirst });
    const acquirer = await client({ endpoints: leaderFirst });
    const name = "us-east:e2e-leader-kill";
    const held = await holder.acquire(name);
    const waiting = acquirer.acquire(name, { waitMs: 30_000 });
    await statusUntil(holder, name, (s) => s.waiters.length === 1);
    // The leader is stopped (SIGSTOP) before the burst is sent, so every acquire of it is
    // still unanswered when the leader is killed: each must be retried and granted once.
    leader.pause();
    const burstNames = Array.from({ length: 20 }, (_, i) => `us-east:e2e-burst-${i}`);
    let burstSettled = false;
    const burst = Promise.all(burstNames.map((n) => acquirer.acquire(n))).finally(() => (burstSettled = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(burstSettled).toBe(false);
    await leader.kill();
    await cluster.waitForLeader(REGION, 15_000);
    await held.release();
    const granted = await waiting;
    const burstHandles = await burst;
    expect(granted.token).toBeGreaterThan(held.token);
    const status = await acquirer.status(name);
    expect(status.holders.map((h) => [h.sessionId, h.token])).toEqual([[granted.sessionId, granted.token]]);
    for (const handle of burstHandles) {
      const s = await acquirer.status(handle.name);
      expect(s.holders.map((h) => [h.sessionId, h.token]), handle.name).toEqual([[handle.sessionId, handle.token]]);
    }
    expect(new Set([granted.token, ...burstHandles.map((h) => h.token)]).size).toBe(burstHandles.length + 1);
    await leader.start();
  });

  it("gets a waiter connected to a follower its grant when the leader dies during the wait", async () => {
    // The follower forwarded the wait to the old leader and, when that leader dies, keeps the
    // forward open until its own timer (wait + 5 s) answers TIMEOUT, although the new leader
    // granted the lock long before (a server issue, reported). The client must then adopt
    // the grant, found by a linearizable status, instead of withdrawing it.
    const leader = await cluster.waitForLeader(REGION);
    const [follower, other] = cluster.regionNodes(REGION).filter((n) => n !== leader);
    const name = "us-east:e2e-follower-wait";
    const holder = await client({ endpoints: [other?.clientUrl as string] });
    const waiter = await client({ endpoints: [follower?.clientUrl as string] });
    const held = await holder.acquire(name);
    const waiting = waiter.acquire(name, { waitMs: 6_000 });
    await statusUntil(holder, name, (s) => s.waiters.length === 1);
    await leader.kill();
    await cluster.waitForLeader(REGION, 15_000);
    await held.release();
    const granted = await waiting;
    expect(granted.token).toBeGreaterThan(held.token);
    const status = await holder.status(name);
    expect(status.holders.map((h) => [h.sessionId, h.token])).toEqual([[granted.sessionId, granted.token]]);
    await leader.start();
  });

  it("tells a holder paused past its TTL that it lost the lock, and fences its stale token", async () => {
    const name = "us-east:e2e-paused-holder";
    const resource = new FencedResource();
    const holder = new CliProcess(cliArgs("acquire", name, "--ttl", "1s"));
    const stale = (await holder.event("acquired", 15_000))["token"] as number;
    expect(resource.admit(name, stale)).toEqual({ ok: true });
    holder.signal("SIGSTOP");
    const other = await client();
    const newer = await other.acquire(name, { waitMs: 30_000 });
    expect(newer.token).toBeGreaterThan(stale);
    expect(resource.admit(name, newer.token)).toEqual({ ok: true });
    holder.signal("SIGCONT");
    const lost = await holder.event("lost", 15_000);
    expect(lost).toMatchObject({ name, token: stale, code: "LOCK_LOST" });
    expect((await holder.exited(15_000)).code).toBe(76);
    // The paused holder's write, arriving late, is refused by the resource.
    expect(resource.admit(name, stale)).toEqual({ ok: false, highestToken: newer.token });
  });

  it("runs a command with the fencing token and returns its exit code", async () => {
    const name = "us-east:e2e-run";
    const script = "console.log('token=' + process.env.GEOLOCK_FENCING_TOKEN + ' name=' + process.env.GEOLOCK_LOCK_NAME); process.exit(7)";
    const result = await runCli(cliArgs("run", name, "--ttl", "3s", "--", process.execPath, "-e", script));
    expect(result.code).toBe(7);
    const acquired = result.events.find((e) => e["event"] === "acquired");
    expect(typeof acquired?.["token"]).toBe("number");
    expect(result.stdout).toContain(`token=${String(acquired?.["token"])} name=${name}`);
    expect(result.events.some((e) => e["event"] === "released")).toBe(true);
    const c = await client();
    expect((await c.status(name)).holders).toEqual([]);
  });

  it("does not run the command when the lock is held, and exits 75 with HELD", async () => {
    const name = "us-east:e2e-run-held";
    const c = await client();
    await c.acquire(name);
    const result = await runCli(cliArgs("run", name, "--", process.execPath, "-e", "console.log('ran')"));
    expect(result.code).toBe(75);
    expect(result.stdout).not.toContain("ran");
    expect(JSON.parse(result.stderr.trim())).toMatchObject({ error: "HELD" });
  });

  it("stops the command when its lock is force-released by geolock release, and exits 76", async () => {
    const name = "us-east:e2e-run-lost";
    const script = "process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(0); }); setInterval(() => {}, 1000)";
    const runner = new CliProcess(cliArgs("run", name, "--ttl", "3s", "--", process.execPath, "-e", script));
    const acquired = await runner.event("acquired", 15_000);
    const release = await runCli(cliArgs("release", name, "--session", String(acquired["sessionId"]), "--client-id", String(acquired["clientId"])));
    expect(release.code).toBe(0);
    expect(release.events[0]).toMatchObject({ event: "sessionClosed", released: [{ name, token: acquired["token"] }] });
    await runner.event("lost", 15_000);
    expect((await runner.exited(15_000)).code).toBe(76);
    expect(runner.stdout).toContain("child got SIGTERM");
  });

  it("reports the region's nodes and leader with geolock cluster, and a lock with geolock status", async () => {
    const leader = await cluster.waitForLeader(REGION);
    const result = await runCli(cliArgs("cluster"));
    expect(result.code).toBe(0);
    const nodes = result.events[0]?.["nodes"] as { name: string; status?: { role: string; leader: string } }[];
    expect(nodes.map((n) => n.name).sort()).toEqual(["us-east/1", "us-east/2", "us-east/3"]);
    expect(nodes.find((n) => n.status?.role === "leader")?.name).toBe(leader.name);
    const c = await client();
    const handle = await c.acquire("us-east:e2e-status", { owner: "status-test" });
    const status = await runCli(cliArgs("status", "us-east:e2e-status"));
    expect(status.events[0]).toMatchObject({ event: "status", token: handle.token, holders: [{ owner: "status-test", sessionId: handle.sessionId }] });
  });

  // Each leader leads for LEAD_MS (long enough to commit a few ticks), then is paused until
  // another is elected and let back as a follower: a new leader about every 1.3 s, far less
  // than the dead holder's 4 s TTL. If every leader change restarted the full TTL (etcd
  // #9395) the dead holder would keep the lock for as long as the churn lasts (this test was
  // checked to fail with that rule); here the waiter must get it while the churn goes on.
  it("releases a dead holder's lock to the waiter while leaders keep changing faster than its TTL", async () => {
    const LEAD_MS = 800;
    const name = "us-east:e2e-churn";
    const holder = new CliProcess(cliArgs("acquire", name, "--ttl", "4s"));
    const acquired = await holder.event("acquired", 15_000);
    const waiter = await client({ ttlMs: 20_000 });
    let granted: LockHandle | undefined;
    void waiter.acquire(name, { waitMs: 120_000 }).then(
      (h) => (granted = h),
      () => undefined, // the client is closed after a failed run
    );
    await statusUntil(waiter, name, (s) => s.waiters.length === 1 && s.token === acquired["token"]);
    holder.signal("SIGKILL");
    let leaderChanges = 0;
    for (let round = 0; round < 30 && granted === undefined; round++) {
      const leader = await cluster.waitForLeader(REGION, 15_000);
      await new Promise((resolve) => setTimeout(resolve, LEAD_MS));
      if (granted !== undefined) break;
      leader.pause();
      try {
        await waitFor(async () => {
          const statuses = await Promise.all(cluster.regionNodes(REGION).filter((n) => n !== leader).map((n) => n.status()));
          return statuses.some((s) => s?.role === "leader") ? true : undefined;
        }, 15_000);
      } finally {
        leader.resume();
      }
      leaderChanges += 1;
    }
    const handle = granted;
    expect(handle, `no grant during ${leaderChanges} leader changes`).toBeDefined();
    expect(leaderChanges).toBeGreaterThanOrEqual(2);
    expect(handle?.token).toBeGreaterThan(acquired["token"] as number);
    const status = await statusUntil(waiter, name, (s) => s.holders.length === 1);
    expect(status.holders.map((h) => h.sessionId)).toEqual([handle?.sessionId]);
  }, 120_000);
});

describe("watching a lock over real nodes", () => {
  /** The holders a watcher believes in, by token, from the events it was given. */
  function holdersSeen(events: readonly WatchEvent[]): Map<number, string> {
    const holders = new Map<number, string>();
    for (const e of events) {
      if (e.type === "status") {
        holders.clear();
        for (const h of e.status.holders) holders.set(h.token, h.owner);
      } else if (e.type === "acquired") holders.set(e.token, e.owner);
      else holders.delete(e.token);
    }
    return holders;
  }

  it("shows a watcher on a follower every grant and release in log order, with why each holder went", async () => {
    const name = "us-east:e2e-watched";
    const leader = await cluster.waitForLeader(REGION);
    const follower = cluster.regionNodes(REGION).find((n) => n !== leader) as (typeof leader);
    const watcher = await client({ endpoints: [follower.clientUrl] });
    const events: WatchEvent[] = [];
    await watcher.watch(name, (e) => events.push(e));
    expect(events).toEqual([{ type: "status", index: expect.any(Number), status: expect.objectContaining({ name, holders: [] }) }]);
    const metrics = await (await fetch(follower.clientUrl.replace("ws://", "http://").replace("/client", "/metrics"))).text();
    expect(metrics).toMatch(/^geolock_lock_watches\{[^}]*\} [1-9]/m);

    const holder = new CliProcess(cliArgs("acquire", name, "--ttl", "2s", "--owner", "cli-holder"));
    const acquired = await holder.event("acquired", 15_000);
    const b = await client();
    const bWaits = b.acquire(name, { waitMs: 30_000, owner: "b" });
    await statusUntil(b, name, (s) => s.waiters.length === 1);
    holder.signal("SIGKILL");
    const bHandle = await bWaits;
    await bHandle.release();
    const c = await client();
    const cHandle = await c.acquire(name, { owner: "c" });
    await c.close();

    const changes = await waitFor(() => (events.length >= 7 ? events.slice(1) : undefined), 15_000);
    expect(changes?.map((e) => (e.type === "status" ? "status" : `${e.type} ${e.owner} #${e.token}${e.type === "released" ? ` ${e.reason}` : ""}`))).toEqual([
      `acquired cli-holder #${acquired["token"] as number}`,
      `released cli-holder #${acquired["token"] as number} expired`,
      `acquired b #${bHandle.token}`,
      `released b #${bHandle.token} released`,
      `acquired c #${cHandle.token}`,
      `released c #${cHandle.token} closed`,
    ]);
    const indexes = events.map((e) => e.index);
    expect(indexes.slice(1).every((index) => index > (indexes[0] as number))).toBe(true);
    expect([...indexes].sort((x, y) => x - y)).toEqual(indexes);
  });

  it("shows a watcher every grant of a contended lock once, in token order, through a leader kill", async () => {
    const name = "us-east:e2e-watch-contended";
    const leader = await cluster.waitForLeader(REGION);
    const follower = cluster.regionNodes(REGION).find((n) => n !== leader) as typeof leader;
    const watcher = await client({ endpoints: [follower.clientUrl] });
    const events: WatchEvent[] = [];
    await watcher.watch(name, (e) => events.push(e));
    const { granted, stop } = await contend(name, 4);
    await waitFor(() => (granted.length >= 20 ? true : undefined), 20_000);
    await leader.kill();
    await cluster.waitForLeader(REGION, 15_000);
    const beforeKill = granted.length;
    await waitFor(() => (granted.length >= beforeKill + 20 ? true : undefined), 20_000);
    await stop();
    await statusUntil(watcher, name, (s) => s.holders.length === 0 && s.waiters.length === 0, 20_000);
    const newest = Math.max(...granted);
    await waitFor(() => (events.some((e) => e.type === "released" && e.token >= newest) ? true : undefined), 15_000);

    // Its node never died, so one status and then every change, each once.
    expect(events.filter((e) => e.type === "status")).toHaveLength(1);
    const { acquired: tokens, heldAtEnd } = checkExclusiveStream(events);
    expect(heldAtEnd).toBeUndefined();
    // Every grant a worker was told of was seen (a grant whose answer was lost may be seen too).
    expect(granted.filter((t) => !tokens.includes(t))).toEqual([]);
    expect(granted.length).toBeGreaterThanOrEqual(40);
    await leader.start();
  }, 120_000);

  /**
   * `count` clients acquiring and releasing `name` in turn (each at most 500 times) until
   * stop(); `granted` fills with the tokens they were told of. A call may fail during a
   * fault (the lock then ends with its session at the latest).
   */
  async function contend(name: string, count: number): Promise<{ granted: number[]; stop: () => Promise<void> }> {
    const workers = await Promise.all(Array.from({ length: count }, () => client()));
    const granted: number[] = [];
    let running = true;
    const loops = workers.map(async (w) => {
      for (let i = 0; i < 500 && running; i++) {
        try {
          const handle = await w.acquire(name, { waitMs: 20_000 });
          granted.push(handle.token);
          await handle.release();
        } catch {
          // A fault may fail a call; the lock then ends with its session at the latest.
        }
      }
    });
    return {
      granted,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  /**
   * Checks a watch stream of an exclusive lock: at most one holder in every status, each
   * grant to a free lock with a token above every earlier one, each release of the current
   * holder, indexes never going back. Returns the tokens seen acquired and who holds at the end.
   */
  function checkExclusiveStream(events: readonly WatchEvent[]): { acquired: number[]; heldAtEnd: number | undefined } {
    let held: number | undefined;
    let lastIndex = 0;
    let lastToken = 0;
    const acquired: number[] = [];
    events.forEach((e, i) => {
      expect(e.index, `event ${i} goes back in the log`).toBeGreaterThanOrEqual(lastIndex);
      lastIndex = e.index;
      if (e.type === "status") {
        expect(e.status.holders.length, `status ${i}`).toBeLessThanOrEqual(1);
        held = e.status.holders[0]?.token;
        lastToken = Math.max(lastToken, held ?? 0);
      } else if (e.type === "acquired") {
        expect(held, `event ${i}: acquired #${e.token} while #${String(held)} holds`).toBeUndefined();
        expect(e.token, `event ${i}`).toBeGreaterThan(lastToken);
        held = lastToken = e.token;
        acquired.push(e.token);
      } else {
        expect(e.token, `event ${i}: released #${e.token}, not the holder`).toBe(held);
        held = undefined;
      }
    });
    return { acquired, heldAtEnd: held };
  }

  it("keeps a watcher's view exact when the node it watches through is paused and it moves to another", async () => {
    const name = "us-east:e2e-watch-paused";
    const leader = await cluster.waitForLeader(REGION);
    const other = cluster.regionNodes(REGION).find((n) => n !== leader) as typeof leader;
    const watcher = await client({ endpoints: [leader.clientUrl, other.clientUrl] });
    const events: WatchEvent[] = [];
    await watcher.watch(name, (e) => events.push(e));
    const { granted, stop } = await contend(name, 3);
    await waitFor(() => (granted.length >= 10 ? true : undefined), 20_000);
    leader.pause();
    try {
      const beforePause = granted.length;
      await waitFor(() => (granted.length >= beforePause + 10 && events.filter((e) => e.type === "status").length >= 2 ? true : undefined), 30_000);
    } finally {
      leader.resume();
    }
    await stop();
    await statusUntil(watcher, name, (s) => s.holders.length === 0 && s.waiters.length === 0, 20_000);
    const newest = Math.max(...granted);
    await waitFor(() => (events.some((e) => e.type === "released" && e.token >= newest) ? true : undefined), 15_000);
    expect(events.filter((e) => e.type === "status").length, "the watch moved to another node").toBeGreaterThanOrEqual(2);
    const { heldAtEnd } = checkExclusiveStream(events);
    expect(heldAtEnd).toBeUndefined();
  }, 120_000);

  it("gives each of several watches on one shared connection its own lock's changes only", async () => {
    const root = await client();
    const fork = root.fork();
    const seenX: WatchEvent[] = [];
    const seenY: WatchEvent[] = [];
    const seenX2: WatchEvent[] = [];
    const watchX = await root.watch("us-east:e2e-shared-x", (e) => seenX.push(e));
    await fork.watch("us-east:e2e-shared-y", (e) => seenY.push(e));
    await fork.watch("us-east:e2e-shared-x", (e) => seenX2.push(e));
    const x = await root.acquire("us-east:e2e-shared-x", { owner: "x" });
    const y = await fork.acquire("us-east:e2e-shared-y", { owner: "y" });
    await waitFor(() => (seenX.length >= 2 && seenY.length >= 2 && seenX2.length >= 2 ? true : undefined), 15_000);
    await watchX.close();
    await x.release();
    await y.release();
    await waitFor(() => (seenX2.length >= 3 && seenY.length >= 3 ? true : undefined), 15_000);
    const owners = (events: WatchEvent[]) => events.flatMap((e) => (e.type === "status" ? [] : [`${e.type} ${e.owner}`]));
    expect(owners(seenX)).toEqual(["acquired x"]);
    expect(owners(seenX2)).toEqual(["acquired x", "released x"]);
    expect(owners(seenY)).toEqual(["acquired y", "released y"]);
    await fork.close();
  });

  it("prints a lock's changes with geolock watch until interrupted, then exits 0", async () => {
    const name = "us-east:e2e-watch-cli";
    const watch = new CliProcess(cliArgs("watch", name));
    expect(await watch.event("status", 15_000)).toMatchObject({ name, holders: [] });
    const c = await client();
    const handle = await c.acquire(name, { owner: "cli-watched" });
    expect(await watch.event("acquired", 15_000)).toMatchObject({ name, owner: "cli-watched", token: handle.token, sessionId: handle.sessionId });
    await handle.release();
    expect(await watch.event("released", 15_000)).toMatchObject({ name, token: handle.token, reason: "released" });
    watch.signal("SIGINT");
    expect(await watch.exited(15_000)).toEqual({ code: 0, signal: null });
  });

  it("starts a watch again with a fresh status when the node it was served by dies", async () => {
    const name = "us-east:e2e-watch-failover";
    const leader = await cluster.waitForLeader(REGION);
    const [follower, other] = cluster.regionNodes(REGION).filter((n) => n !== leader) as [typeof leader, typeof leader];
    const watcher = await client({ endpoints: [follower.clientUrl, other.clientUrl] });
    const events: WatchEvent[] = [];
    await watcher.watch(name, (e) => events.push(e));
    await follower.kill();
    const holder = await client({ endpoints: [leader.clientUrl] });
    const handle = await holder.acquire(name, { owner: "after-kill" });
    const seen = await waitFor(() => {
      const holders = holdersSeen(events);
      return holders.get(handle.token) === "after-kill" && holders.size === 1 ? holders : undefined;
    }, 15_000);
    expect(seen, `events: ${JSON.stringify(events.map((e) => e.type))}`).toBeDefined();
    expect(events.filter((e) => e.type === "status").length).toBeGreaterThanOrEqual(2);
    await follower.start();
  });
});
