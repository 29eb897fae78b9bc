// The region's replicated global state: prepare/accept answered with an envelope addressed
// to the proposer, chosen values learned in any order but applied in instance order within a
// bounded window, key states installed by catch-up, anti-entropy answers, acceptor
// compaction, and a snapshot/restore that changes nothing later.

import { SeededRng } from "@geolock/raft";
import { describe, expect, it } from "vitest";
import {
  asGlobalKey,
  asInstance,
  ballot,
  decodeReplicaSnapshot,
  GlobalReplica,
  routeInbound,
  type CatchUpRequestMessage,
  type GlobalKey,
  type ReplicaCommand,
} from "../src/index.js";
import { acquire, config3, EU_WEST, KEY, US_EAST, US_WEST } from "./harness.js";

const i = asInstance;
const value = (client: string) => [acquire(client)];

function replica(): GlobalReplica {
  return new GlobalReplica(config3({ instancesAheadMax: 4 }), US_WEST);
}

function learn(r: GlobalReplica, instance: number, client: string, key: GlobalKey = KEY) {
  return r.apply({ type: "learn", key, instance: i(instance), value: value(client) });
}

describe("global replica", () => {
  it("answers a prepare with a promise addressed to the proposer's region", () => {
    const r = replica();
    const { reply } = r.apply({ type: "prepare", from: US_EAST, key: KEY, ballot: ballot(1, US_EAST, 1), fromInstance: i(1) });
    expect(reply).toMatchObject({ kind: "promise", from: US_WEST, to: US_EAST, key: KEY, chosenThrough: 0 });
  });

  it("buffers values learned out of order and applies them in instance order", () => {
    const r = replica();
    expect(learn(r, 3, "c").applied).toEqual([]);
    expect(learn(r, 2, "b").applied).toEqual([]);
    const { applied } = learn(r, 1, "a");
    expect(applied.map((a) => [a.instance, a.answer.kind])).toEqual([
      [1, "granted"],
      [2, "held"],
      [3, "held"],
    ]);
    expect(r.appliedInstance(KEY)).toBe(3);
  });

  it("drops a learned value beyond its window and ignores one already applied", () => {
    const r = replica();
    learn(r, 6, "far"); // 1 + instancesAheadMax(4) < 6
    learn(r, 1, "a");
    expect(learn(r, 1, "a").applied).toEqual([]);
    expect(r.snapshot().pending).toEqual([]);
  });

  it("throws if two different values are learned for one instance", () => {
    const r = replica();
    learn(r, 2, "b");
    expect(() => learn(r, 2, "other")).toThrow(/learned two different values/);
  });

  it("forgets accepted values once it learned their instances, and reports how far it applied", () => {
    const r = replica();
    const b = ballot(1, US_EAST, 1);
    r.apply({ type: "accept", from: US_EAST, key: KEY, ballot: b, instance: i(1), value: value("a") });
    r.apply({ type: "accept", from: US_EAST, key: KEY, ballot: b, instance: i(2), value: value("b") });
    learn(r, 1, "a");
    expect(r.acceptorState.acceptedEntries(KEY).map((e) => e.instance)).toEqual([2]);
    const { reply } = r.apply({ type: "prepare", from: EU_WEST, key: KEY, ballot: ballot(2, EU_WEST, 1), fromInstance: i(1) });
    expect(reply).toMatchObject({ kind: "promise", chosenThrough: 1, accepted: [{ instance: 2 }] });
  });

  it("installs a newer key state from a peer, then applies what it had buffered beyond it", () => {
    const behind = replica();
    const ahead = replica();
    for (const [n, client] of ["a", "b", "c"].entries()) learn(ahead, n + 1, client);
    learn(behind, 4, "d");
    behind.apply({ type: "installKey", key: KEY, state: ahead.lockTable.keyState(KEY) });
    expect(behind.appliedInstance(KEY)).toBe(4);
    expect(behind.lockTable.holder(KEY)?.holder.clientId).toBe("a");
    expect(behind.apply({ type: "installKey", key: KEY, state: ahead.lockTable.keyState(KEY) }).applied).toEqual([]);
  });

  it("answers catch-up with the keys the requester lacks or has older, and resumes a long sweep", () => {
    const r = replica();
    const keys = ["global:a", "global:b", "global:c", "global:d"].map(asGlobalKey);
    for (const key of keys) learn(r, 1, "x", key);
    learn(r, 2, "y", asGlobalKey("global:b"));
    const request: CatchUpRequestMessage = {
      kind: "catchUpRequest",
      from: EU_WEST,
      to: US_WEST,
      key: asGlobalKey("global:a"),
      known: [
        { key: asGlobalKey("global:a"), applied: i(1) },
        { key: asGlobalKey("global:b"), applied: i(1) },
      ],
      sweep: { after: "", through: null },
    };
    const reply = r.answerCatchUp(request, 2);
    expect(reply.states.map((s) => [s.key, s.state.applied])).toEqual([
      ["global:b", 2],
      ["global:c", 1],
    ]);
    expect(reply.resumeAfter).toBe("global:c");
    const action = routeInbound(reply, replica());
    expect(action.log.map((c) => c.type)).toEqual(["installKey", "installKey"]);
  });

  it("restored from a snapshot, answers every later command exactly like the original", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new SeededRng(seed);
      const original = replica();
      const commands = Array.from({ length: 50 }, (_, n) => randomCommand(rng, n));
      const cut = rng.nextInt(commands.length);
      for (const c of commands.slice(0, cut)) original.apply(c);
      const decoded = decodeReplicaSnapshot(JSON.parse(JSON.stringify(original.snapshot())), config3({ instancesAheadMax: 4 }));
      if (!decoded.ok) throw new Error(`seed ${seed}: ${decoded.error}`);
      const restored = GlobalReplica.restore(decoded.value, config3({ instancesAheadMax: 4 }));
      for (const c of commands.slice(cut)) expect(restored.apply(c), `seed ${seed}`).toEqual(original.apply(c));
      expect(restored.snapshot()).toEqual(original.snapshot());
    }
  });
});

describe("replica snapshot validation", () => {
  it("refuses a snapshot with a foreign region, unsorted keys or a token counter below the holder's token", () => {
    const r = replica();
    learn(r, 1, "a", asGlobalKey("global:a"));
    learn(r, 1, "b", asGlobalKey("global:b"));
    const good = JSON.parse(JSON.stringify(r.snapshot())) as ReturnType<GlobalReplica["snapshot"]>;
    const config = config3({ instancesAheadMax: 4 });
    expect(decodeReplicaSnapshot(good, config).ok).toBe(true);
    const [a, b] = good.table;
    const bad: unknown[] = [
      { ...good, region: "mars" },
      { ...good, table: [b, a] },
      { ...good, table: [{ ...a, state: { ...a?.state, nextToken: 1 } }, b] },
      { ...good, version: 2 },
    ];
    for (const snapshot of bad) expect(decodeReplicaSnapshot(snapshot, config).ok, JSON.stringify(snapshot)).toBe(false);
  });
});

/** Learns follow one fixed chosen sequence (so they never conflict); prepares/accepts are arbitrary. */
function randomCommand(rng: SeededRng, n: number): ReplicaCommand {
  const instance = i(1 + rng.nextInt(8));
  const b = ballot(1 + rng.nextInt(5), [US_EAST, US_WEST, EU_WEST][rng.nextInt(3)] ?? US_EAST, 1);
  switch (rng.nextInt(3)) {
    case 0:
      return { type: "prepare", from: b.region, key: KEY, ballot: b, fromInstance: instance };
    case 1:
      return { type: "accept", from: b.region, key: KEY, ballot: b, instance, value: [acquire(`v${n}`, US_EAST, 1_000, n)] };
    default:
      return { type: "learn", key: KEY, instance, value: [acquire(`chosen${instance}`, US_EAST, 1_000, instance)] };
  }
}
