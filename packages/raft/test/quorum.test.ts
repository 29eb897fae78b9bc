// Majority arithmetic, checked against brute force over random voter sets and indexes.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jointIndex, jointVote, majorityIndex, majorityVote } from "../src/quorum.js";
import { asIndex, asNodeId } from "../src/types.js";
import type { Index, NodeId } from "../src/types.js";

const ids = (...n: number[]): NodeId[] => n.map(asNodeId);

describe("quorum", () => {
  it("the majority index is the largest index held by a majority (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 7 }), (matches) => {
        const voters = matches.map((_, i) => asNodeId(i + 1));
        const m = majorityIndex(voters, (id) => asIndex(matches[id - 1] as number));
        const holders = (i: number): number => matches.filter((x) => x >= i).length;
        const majority = Math.floor(matches.length / 2) + 1;
        expect(holders(m)).toBeGreaterThanOrEqual(majority);
        expect(holders(m + 1)).toBeLessThan(majority);
      }),
    );
  });

  it("a joint index is the lowest of the configurations' majority indexes", () => {
    const match = (id: NodeId): Index => asIndex(({ 1: 9, 2: 9, 3: 1, 4: 1 } as Record<number, number>)[id] ?? 0);
    expect(majorityIndex(ids(1, 2, 3), match)).toBe(9);
    expect(jointIndex([ids(1, 2, 3), ids(1, 2, 3, 4)], match)).toBe(1);
  });

  it("counts votes: won, lost, or still pending", () => {
    const votes = new Map<NodeId, boolean>([
      [asNodeId(1), true],
      [asNodeId(2), false],
    ]);
    expect(majorityVote(ids(1, 2, 3), votes)).toBe("pending");
    votes.set(asNodeId(3), true);
    expect(majorityVote(ids(1, 2, 3), votes)).toBe("won");
    expect(majorityVote(ids(2, 4, 5), votes)).toBe("pending");
    votes.set(asNodeId(4), false);
    expect(majorityVote(ids(2, 4, 5), votes)).toBe("lost");
    expect(jointVote([ids(1, 2, 3), ids(2, 4, 5)], votes)).toBe("lost");
    expect(jointVote([ids(1, 2, 3), ids(1, 3, 5)], votes)).toBe("won");
  });

  it("refuses an empty voter set", () => {
    expect(() => majorityIndex([], () => asIndex(0))).toThrow(/empty/);
    expect(() => majorityVote([], new Map())).toThrow(/empty/);
  });
});
