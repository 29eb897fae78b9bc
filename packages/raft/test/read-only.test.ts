// ReadOnly: pending ReadIndex requests, acknowledged by heartbeat contexts, released in order.

import { describe, expect, it } from "vitest";
import { ReadOnly } from "../src/read-only.js";
import { asIndex, asNodeId } from "../src/types.js";

const ctx = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("ReadOnly", () => {
  it("releases every request up to and including the acknowledged one, in order", () => {
    const ro = new ReadOnly(10);
    expect(ro.add(asIndex(3), asNodeId(1), ctx("a"))).toBe("added");
    expect(ro.add(asIndex(4), asNodeId(2), ctx("b"))).toBe("added");
    expect(ro.add(asIndex(5), asNodeId(1), ctx("c"))).toBe("added");
    expect(ro.recvAck(asNodeId(2), ctx("b"))?.acks.has(asNodeId(2))).toBe(true);
    expect(ro.advance(ctx("b")).map((r) => r.index)).toEqual([3, 4]);
    expect(ro.size).toBe(1);
    expect(ro.lastContext()).toEqual(ctx("c"));
    expect(ro.advance(ctx("zzz"))).toEqual([]);
  });

  it("refuses duplicates and requests beyond its bound", () => {
    const ro = new ReadOnly(2);
    ro.add(asIndex(1), asNodeId(1), ctx("a"));
    expect(ro.add(asIndex(1), asNodeId(1), ctx("a"))).toBe("duplicate");
    ro.add(asIndex(1), asNodeId(1), ctx("b"));
    expect(ro.add(asIndex(1), asNodeId(1), ctx("c"))).toBe("full");
  });

  it("keeps byte-wise distinct contexts apart", () => {
    const ro = new ReadOnly(4);
    expect(ro.add(asIndex(1), asNodeId(1), Uint8Array.of(0, 1))).toBe("added");
    expect(ro.add(asIndex(1), asNodeId(1), Uint8Array.of(1, 0))).toBe("added");
    expect(ro.add(asIndex(1), asNodeId(1), Uint8Array.of(0, 1, 0))).toBe("added");
  });
});
