// The harness's pure parts: options, the fault schedule, nft rules and the unsafe server's
// flaws (kept on purpose: it is what the harness must catch).

import { GeolockError } from "@geolock/client";
import { describe, expect, it } from "vitest";
import { isDefinite } from "../src/harness/adapters.js";
import { toRecord } from "../src/harness/watchers.js";
import { cutBetween, DEFAULT_OPTIONS, nftScript, parseJepsenArgs, planFaults, UnsafeLockServer, decodeUnsafeRequest, NFT_TABLE } from "@geolock/jepsen-lite";

describe("jepsen options", () => {
  it("parses the issue's command line", () => {
    const parsed = parseJepsenArgs(["--workload", "mixed", "--nemesis", "kill,pause,partition,region,clock", "--time", "60", "--concurrency", "10", "--seed", "42"]);
    expect(parsed).toMatchObject({ ok: true, value: { workload: "mixed", nemeses: ["kill", "pause", "partition", "region", "clock"], timeS: 60, concurrency: 10, seed: 42, target: "geolock" } });
  });

  it("refuses unknown nemeses, bad numbers and partitions of the one-process unsafe server", () => {
    expect(parseJepsenArgs(["--nemesis", "kill,flood"])).toMatchObject({ ok: false, error: expect.stringMatching(/unknown nemesis flood/) });
    expect(parseJepsenArgs(["--time", "0"])).toMatchObject({ ok: false });
    expect(parseJepsenArgs(["--concurrency"])).toMatchObject({ ok: false, error: expect.stringMatching(/needs a value/) });
    expect(parseJepsenArgs(["--target", "unsafe", "--nemesis", "partition"])).toMatchObject({ ok: false, error: expect.stringMatching(/one process/) });
  });
});

describe("fault schedule", () => {
  const base = { seed: 5, kinds: DEFAULT_OPTIONS.nemeses, timeMs: 60_000, ttlMs: 2_000, singleNode: false };

  it("is the same for the same seed and differs for another", () => {
    expect(planFaults(base)).toEqual(planFaults(base));
    expect(planFaults(base)).not.toEqual(planFaults({ ...base, seed: 6 }));
  });

  it("gives every kind its turn, one fault at a time, all over before the workload ends", () => {
    const faults = planFaults({ ...base, kinds: ["kill", "pause", "partition", "region", "clock"] });
    expect(new Set(faults.slice(0, 5).map((f) => f.kind))).toEqual(new Set(["kill", "pause", "partition", "region", "clock"]));
    for (let i = 1; i < faults.length; i++) expect(faults[i]!.atMs).toBeGreaterThan(faults[i - 1]!.atMs + faults[i - 1]!.durationMs);
    const last = faults[faults.length - 1]!;
    expect(last.atMs + last.durationMs).toBeLessThan(base.timeMs);
  });

  it("pauses clients for longer than their lease", () => {
    const pauses = planFaults({ ...base, kinds: ["pause"], timeMs: 300_000 }).filter((f) => f.variant === "pause-client");
    expect(pauses.length).toBeGreaterThan(0);
    for (const p of pauses) expect(p.durationMs).toBeGreaterThan(2 * base.ttlMs);
  });

  it("plans nothing without nemeses", () => {
    expect(planFaults({ ...base, kinds: [] })).toEqual([]);
  });
});

describe("nft rules", () => {
  it("drop each cut direction in an output chain of our own table, replaced atomically", () => {
    const script = nftScript(cutBetween(["127.0.0.11"], ["127.0.0.12", "127.0.0.13"]));
    expect(script.split("\n").filter((l) => l.includes(" drop"))).toEqual([
      "    ip saddr 127.0.0.11 ip daddr 127.0.0.12 drop",
      "    ip saddr 127.0.0.12 ip daddr 127.0.0.11 drop",
      "    ip saddr 127.0.0.11 ip daddr 127.0.0.13 drop",
      "    ip saddr 127.0.0.13 ip daddr 127.0.0.11 drop",
    ]);
    expect(script).toMatch(new RegExp(`^add table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\ntable inet ${NFT_TABLE} \\{`));
    expect(script).toContain("type filter hook output priority 0; policy accept;");
  });

  it("refuses rules that would touch anything outside loopback", () => {
    expect(() => nftScript([{ from: "10.0.0.1", to: "127.0.0.12" }])).toThrow(/outside 127/);
  });
});

describe("the unsafe lock server (deliberately unsafe)", () => {
  it("grants once, then expires the holder silently after its TTL", () => {
    let now = 0;
    const server = new UnsafeLockServer(() => now);
    expect(server.handle({ id: 1, op: "acquire", key: "k", owner: "a", ttlMs: 1000 })).toMatchObject({ ok: true, token: 1 });
    expect(server.handle({ id: 2, op: "acquire", key: "k", owner: "b", ttlMs: 1000 })).toMatchObject({ ok: false, error: "HELD" });
    now = 1001;
    expect(server.handle({ id: 3, op: "acquire", key: "k", owner: "b", ttlMs: 1000 })).toMatchObject({ ok: true, token: 2 });
  });

  it("lets anyone release the lock, even a former holder", () => {
    let now = 0;
    const server = new UnsafeLockServer(() => now);
    expect(server.handle({ id: 1, op: "acquire", key: "k", owner: "a", ttlMs: 1000 })).toMatchObject({ ok: true, token: 1 });
    now = 1001;
    expect(server.handle({ id: 2, op: "acquire", key: "k", owner: "b", ttlMs: 1000 })).toMatchObject({ ok: true, token: 2 });
    // a's lease ran out and b holds the lock, yet a's late release frees it: the bug it models.
    server.handle({ id: 3, op: "release", key: "k" });
    expect(server.handle({ id: 4, op: "status", key: "k" })).toMatchObject({ holder: null });
  });

  it("refuses malformed requests", () => {
    expect(decodeUnsafeRequest("{")).toBeNull();
    expect(decodeUnsafeRequest(JSON.stringify({ id: 1, op: "acquire", key: "k", owner: "a", ttlMs: -1 }))).toBeNull();
    expect(decodeUnsafeRequest(JSON.stringify({ id: 1, op: "status", key: "k" }))).toEqual({ id: 1, op: "status", key: "k" });
  });
});

describe("acquire outcomes", () => {
  it("counts an acquire as failed only when it certainly took no effect", () => {
    expect(isDefinite(new GeolockError("INVALID_NAME", "bad"), 300)).toBe(true);
    expect(isDefinite(new GeolockError("HELD", "held"), 0)).toBe(true);
    // A wait may have been granted to a session that then ended.
    expect(isDefinite(new GeolockError("HELD", "held"), 300)).toBe(false);
    // So may a try-lock whose first session ended with its outcome unknown.
    expect(isDefinite(new GeolockError("HELD", "held", { sessionReplaced: true }), 0)).toBe(false);
    expect(isDefinite(new GeolockError("INVALID_ARGUMENT", "bad", { sessionReplaced: true }), 0)).toBe(false);
    expect(isDefinite(new GeolockError("TIMEOUT", "slow"), 0)).toBe(false);
    expect(isDefinite(new Error("other"), 0)).toBe(false);
  });
});

describe("watch records", () => {
  it("keep a status's holder token and the floor every later grant is above", () => {
    const regional = toRecord(2, "us-east:k0", 50, { type: "status", index: 7, status: { name: "us-east:k0", mode: "exclusive", token: 4, holders: [{ sessionId: 1, owner: "o", mode: "exclusive", token: 4, clientId: "c", sinceMs: 0 }], waiters: [] } } as never);
    expect(regional).toEqual({ watcher: 2, key: "us-east:k0", time: 50, type: "status", index: 7, holderToken: 4, floor: 4 });
    const free = toRecord(3, "global:k0", 60, { type: "status", index: 9, status: { name: "global:k0", region: "us-east", applied: 9, token: null, holder: null, nextToken: 12 } } as never);
    expect(free).toEqual({ watcher: 3, key: "global:k0", time: 60, type: "status", index: 9, holderToken: null, floor: 11 });
    const granted = toRecord(3, "global:k0", 70, { type: "acquired", index: 10, name: "global:k0", holder: { region: "us-east", clientId: "c", owner: "o" }, token: 12 });
    expect(granted).toEqual({ watcher: 3, key: "global:k0", time: 70, type: "acquired", index: 10, token: 12 });
  });
});
