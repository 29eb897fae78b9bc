// SnapshotAssembly: the follower's in-order, bounded buffer for a chunked snapshot.

import { describe, expect, it } from "vitest";
import { SnapshotAssembly } from "../src/snapshot-assembly.js";
import { asIndex, asTerm } from "../src/types.js";

const meta = { index: asIndex(9), term: asTerm(2), confState: { voters: [], learners: [] } };

describe("SnapshotAssembly", () => {
  it("accepts chunks in order and hands out the whole snapshot", () => {
    const a = new SnapshotAssembly(meta, 5);
    expect(a.accept(0, Uint8Array.of(1, 2))).toBe("accepted");
    expect(a.accept(0, Uint8Array.of(1, 2))).toBe("duplicate");
    expect(a.accept(2, Uint8Array.of(3, 4, 5))).toBe("accepted");
    expect(a.complete()).toBe(true);
    expect([...a.snapshot().data]).toEqual([1, 2, 3, 4, 5]);
  });

  it("rejects a gap, an overlap and anything past the declared size", () => {
    const a = new SnapshotAssembly(meta, 4);
    expect(a.accept(2, Uint8Array.of(1))).toBe("mismatch");
    expect(a.accept(0, Uint8Array.of(1, 2, 3, 4, 5))).toBe("mismatch");
    a.accept(0, Uint8Array.of(1, 2));
    expect(a.accept(1, Uint8Array.of(9, 9, 9))).toBe("mismatch");
    expect(a.received).toBe(2);
    expect(() => a.snapshot()).toThrow(/incomplete/);
  });
});
