// The global lock table: what chosen commands mean. Try-lock grants, fencing tokens that
// only grow, leases that expire only for the lease period they name, exactly-once retries,
// bounded dedup, and a snapshot/restore that changes nothing later.

import { SeededRng } from "@geolock/raft";
import { describe, expect, it } from "vitest";
import {
  asFencingToken,
  asGlobalKey,
  asInstance,
  GlobalLockTable,
  type AppliedCommand,
  type FencingToken,
  type LockAnswer,
  type LockCommand,
} from "../src/index.js";
import { EU_WEST, US_EAST, US_WEST } from "./harness.js";

const K = asGlobalKey("global:k");

class Table {
  readonly table = new GlobalLockTable({ keysMax: 8, dedupClientsPerKeyMax: 3 });
  private instance = 0;
  private seqs = new Map<string, number>();

  run(...commands: LockCommand[]): AppliedCommand[] {
    return this.table.apply(K, asInstance(++this.instance), commands);
  }

  one(command: LockCommand): LockAnswer {
    const [applied] = this.run(command);
    if (applied === undefined) throw new Error("nothing applied");
    return applied.answer;
  }

  next(clientId: string): { clientId: string; seq: number } {
    const seq = (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, seq);
    return { clientId, seq };
  }

  acquire(clientId: string, region = US_EAST, ttlMs = 1_000): LockAnswer {
    return this.one({ type: "acquire", requestId: this.next(clientId), holder: { region, clientId, owner: "o" }, ttlMs });
  }
  renew(clientId: string, token: number, ttlMs = 1_000): LockAnswer {
    return this.one({ type: "renew", requestId: this.next(clientId), token: asFencingToken(token), ttlMs });
  }
  release(clientId: string, token: number): LockAnswer {
    return this.one({ type: "release", requestId: this.next(clientId), token: asFencingToken(token) });
  }
  expire(token: number, leaseVersion: number): LockAnswer {
    return this.one({ type: "expire", token: asFencingToken(token), leaseVersion });
  }
}

describe("global lock table", () => {
  it("grants a free key and refuses a held one with the holder", () => {
    const t = new Table();
    expect(t.acquire("a")).toMatchObject({ kind: "granted", token: 1, leaseVersion: 1 });
    expect(t.acquire("b", US_WEST)).toMatchObject({ kind: "held", token: 1, holder: { clientId: "a", region: US_EAST } });
  });

  it("gives strictly increasing tokens across releases and expiries", () => {
    const t = new Table();
    const tokens: FencingToken[] = [];
    for (const client of ["a", "b", "c", "d"]) {
      const granted = t.acquire(client);
      if (granted.kind !== "granted") throw new Error(`not granted: ${granted.kind}`);
      tokens.push(granted.token);
      if (client === "b") expect(t.expire(granted.token, 1).kind).toBe("expired");
      else expect(t.release(client, granted.token).kind).toBe("released");
    }
    expect(tokens).toEqual([1, 2, 3, 4]);
  });

  it("gives the same holder asking again a new grant with a new token, which replaces the old one", () => {
    const t = new Table();
    t.acquire("a");
    expect(t.acquire("a", US_EAST, 2_000)).toEqual({ kind: "granted", token: 2, leaseVersion: 1, ttlMs: 2_000 });
    // The old grant is gone: its token neither renews nor releases, nor expires the new one.
    expect(t.renew("a", 1).kind).toBe("notHolder");
    expect(t.release("a", 1).kind).toBe("notHolder");
    expect(t.expire(1, 1).kind).toBe("staleLease");
    expect(t.table.holder(K)).toMatchObject({ token: 2, leaseVersion: 1 });
    // Another client is still refused, and told the new token.
    expect(t.acquire("b")).toMatchObject({ kind: "held", token: 2 });
  });

  it("renews and releases only for the holder's token and client", () => {
    const t = new Table();
    t.acquire("a");
    expect(t.renew("b", 1).kind).toBe("notHolder");
    expect(t.renew("a", 7).kind).toBe("notHolder");
    expect(t.release("b", 1).kind).toBe("notHolder");
    expect(t.renew("a", 1)).toMatchObject({ kind: "renewed", token: 1, leaseVersion: 2 });
    expect(t.release("a", 1).kind).toBe("released");
    expect(t.release("a", 1).kind).toBe("notHolder");
  });

  it("expires a holder only if no renew was chosen since the lease period it names", () => {
    const t = new Table();
    t.acquire("a");
    t.renew("a", 1);
    expect(t.expire(1, 1).kind).toBe("staleLease");
    expect(t.table.holder(K)?.holder.clientId).toBe("a");
    expect(t.expire(1, 2).kind).toBe("expired");
    expect(t.table.holder(K)).toBeNull();
    expect(t.expire(1, 2).kind).toBe("staleLease");
  });

  it("answers a retried request with its first answer and applies it once", () => {
    const t = new Table();
    const requestId = t.next("a");
    const command: LockCommand = { type: "acquire", requestId, holder: { region: EU_WEST, clientId: "a", owner: "" }, ttlMs: 1_000 };
    const [first] = t.run(command);
    t.run({ type: "release", requestId, token: asFencingToken(1) }); // the same request again: not a release
    const [retry] = t.run(command);
    expect(retry).toMatchObject({ duplicate: true, answer: first?.answer });
    expect(t.table.holder(K)?.token).toBe(1);
    expect(t.table.keyState(K).nextToken).toBe(2);
  });

  it("never applies a request older than the client's latest on the key", () => {
    const t = new Table();
    const late: LockCommand = { type: "acquire", requestId: { clientId: "a", seq: 1 }, holder: { region: US_EAST, clientId: "a", owner: "" }, ttlMs: 1_000 };
    t.run({ ...late, requestId: { clientId: "a", seq: 2 } });
    t.run({ type: "release", requestId: { clientId: "a", seq: 3 }, token: asFencingToken(1) });
    const [applied] = t.run(late);
    expect(applied).toMatchObject({ duplicate: true, answer: { kind: "staleSequence" } });
    expect(t.table.holder(K)).toBeNull();
  });

  it("keeps at most dedupClientsPerKeyMax records and never evicts the holder's", () => {
    const t = new Table();
    t.acquire("holder");
    for (const client of ["a", "b", "c", "d", "e"]) t.acquire(client);
    const clients = t.table.keyState(K).dedup.map((r) => r.clientId);
    expect(clients.length).toBe(3);
    expect(clients).toContain("holder");
    expect(clients).toContain("e");
  });

  it("applies a batch in order, so a release and an acquire in one value both take effect", () => {
    const t = new Table();
    t.acquire("a");
    const answers = t.run(
      { type: "release", requestId: t.next("a"), token: asFencingToken(1) },
      { type: "acquire", requestId: t.next("b"), holder: { region: US_WEST, clientId: "b", owner: "" }, ttlMs: 1_000 },
    );
    expect(answers.map((a) => a.answer.kind)).toEqual(["released", "granted"]);
    expect(t.table.holder(K)?.token).toBe(2);
  });

  it("refuses to apply an instance out of order", () => {
    const t = new Table();
    expect(() => t.table.apply(K, asInstance(2), [])).toThrow(/applying instance 2 after 0/);
  });

  it("restored from a snapshot, answers every later command exactly like the original", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new SeededRng(seed);
      const original = new Table();
      const commands = Array.from({ length: 60 }, () => randomCommand(rng, original));
      const cut = rng.nextInt(commands.length);
      for (const c of commands.slice(0, cut)) original.run(c);
      const restored = new GlobalLockTable({ keysMax: 8, dedupClientsPerKeyMax: 3 });
      restored.restoreKeys(JSON.parse(JSON.stringify(original.table.snapshot())));
      let instance = original.table.appliedInstance(K);
      for (const c of commands.slice(cut)) {
        instance++;
        expect(restored.apply(K, asInstance(instance), [c]), `seed ${seed}`).toEqual(original.run(c));
      }
      expect(restored.snapshot()).toEqual(original.table.snapshot());
      restored.assertInvariants();
    }
  });
});

function randomCommand(rng: SeededRng, t: Table): LockCommand {
  const clientId = ["a", "b", "c", "d", "e"][rng.nextInt(5)] ?? "a";
  const token = asFencingToken(1 + rng.nextInt(6));
  const requestId = rng.nextInt(5) === 0 ? { clientId, seq: 1 + rng.nextInt(3) } : t.next(clientId);
  switch (rng.nextInt(4)) {
    case 0:
      return { type: "acquire", requestId, holder: { region: US_EAST, clientId, owner: "" }, ttlMs: 1_000 };
    case 1:
      return { type: "renew", requestId, token, ttlMs: 2_000 };
    case 2:
      return { type: "release", requestId, token };
    default:
      return { type: "expire", token, leaseVersion: 1 + rng.nextInt(2) };
  }
}
