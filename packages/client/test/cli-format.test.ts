// The CLI's human output and its reading of a node's GET /status.

import { describe, expect, it } from "vitest";
import { decodeNodeHttpStatus, formatCluster, formatGlobalWatchChange, formatStatus, formatWatchChange, nodeReports } from "../src/cli-format.js";
import type { ClusterView } from "../src/index.js";

const view: ClusterView = {
  self: "us-east/1",
  region: "us-east",
  leader: "us-east/1",
  regions: [{ name: "us-east", leaderGuess: "us-east/1", nodes: [1, 2, 3].map((n) => ({ name: `us-east/${n}`, host: "127.0.0.1", port: 7010 + n })) }],
};

describe("cluster output", () => {
  it("computes each node's lag behind its region's highest commit, and marks silent nodes down", () => {
    const statuses = new Map([
      ["us-east/1", { role: "leader", term: 3, leader: "us-east/1", commit: 120, applied: 120 }],
      ["us-east/2", { role: "follower", term: 3, leader: "us-east/1", commit: 118, applied: 115 }],
      ["us-east/3", undefined],
    ]);
    const reports = nodeReports(view, statuses);
    expect(reports.map((r) => r.lag)).toEqual([0, 5, undefined]);
    const text = formatCluster(reports);
    expect(text.split("\n")[0]).toMatch(/^REGION\s+NODE\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LAG\s+LEADER$/);
    expect(text).toMatch(/us-east\/3\s+down/);
  });

  it("accepts a node status only with the fields it shows", () => {
    expect(decodeNodeHttpStatus({ role: "leader", term: 1, leader: null, commit: 2, applied: 2, extra: 1 })).toEqual({ role: "leader", term: 1, leader: null, commit: 2, applied: 2 });
    expect(decodeNodeHttpStatus({ role: "leader", term: -1, leader: null, commit: 2, applied: 2 })).toBeUndefined();
    expect(decodeNodeHttpStatus({ role: "leader", term: 1, leader: 5, commit: 2, applied: 2 })).toBeUndefined();
    expect(decodeNodeHttpStatus("ok")).toBeUndefined();
  });
});

describe("status output", () => {
  it("says a lock is free", () => {
    expect(formatStatus({ name: "us-east:x", mode: null, token: null, holders: [], waiters: [] })).toBe("us-east:x is free");
  });

  it("lists holders and waiters with their tokens and times", () => {
    const text = formatStatus({
      name: "us-east:x",
      mode: "exclusive",
      token: 9,
      holders: [{ sessionId: 4, clientId: "gl-a", owner: "host:1", mode: "exclusive", token: 9, heldForMs: 1_500 }],
      waiters: [{ sessionId: 6, clientId: "gl-b", owner: "host:2", mode: "exclusive", waitedForMs: 200, remainingMs: 4_800 }],
    });
    expect(text).toContain("us-east:x held exclusive, newest fencing token 9");
    expect(text).toMatch(/holder\s+4\s+9\s+host:1\s+gl-a\s+1.5s/);
    expect(text).toMatch(/waiter exclusive\s+6\s+-\s+host:2\s+gl-b\s+200ms\s+4.8s/);
  });
});

describe("watch output", () => {
  it("says who acquired a lock and who let it go, and why", () => {
    const holder = { name: "us-east:x", sessionId: 4, owner: "host:1", mode: "exclusive", token: 9 } as const;
    expect(formatWatchChange({ type: "acquired", index: 31, ...holder })).toBe("#31 acquired us-east:x by host:1 (session 4, exclusive, token 9)");
    expect(formatWatchChange({ type: "released", index: 40, ...holder, reason: "expired" })).toBe("#40 us-east:x freed by host:1 (session 4, exclusive, token 9): session expired");
    expect(formatWatchChange({ type: "released", index: 41, ...holder, reason: "released" })).toMatch(/: released$/);
  });

  it("says which client and region held a global lock, and whether its lease expired", () => {
    const change = { name: "global:x", holder: { region: "us-west", clientId: "gl-a", owner: "app-1" }, token: 7 } as const;
    expect(formatGlobalWatchChange({ type: "acquired", index: 5, ...change })).toBe("#5 acquired global:x by app-1 (client gl-a via us-west, token 7)");
    expect(formatGlobalWatchChange({ type: "released", index: 6, ...change, reason: "expired" })).toBe("#6 global:x freed by app-1 (client gl-a via us-west, token 7): lease expired");
  });
});
