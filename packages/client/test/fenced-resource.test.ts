// The reference fencing validator: a resource accepts a token only if no higher token for
// the same lock was accepted before.

import { describe, expect, it } from "vitest";
import { FencedResource } from "../src/index.js";

describe("FencedResource", () => {
  it("refuses a token lower than one it accepted, per lock name", () => {
    const resource = new FencedResource();
    expect(resource.admit("us-east:a", 5)).toEqual({ ok: true });
    expect(resource.admit("us-east:a", 4)).toEqual({ ok: false, highestToken: 5 });
    expect(resource.admit("us-east:b", 1)).toEqual({ ok: true });
    expect(resource.highestToken("us-east:a")).toBe(5);
  });

  it("accepts the same token again and newer ones", () => {
    const resource = new FencedResource();
    resource.admit("us-east:a", 5);
    expect(resource.admit("us-east:a", 5)).toEqual({ ok: true });
    expect(resource.admit("us-east:a", 9)).toEqual({ ok: true });
    expect(resource.check("us-east:a", 5)).toEqual({ ok: false, highestToken: 9 });
  });

  it("check changes nothing", () => {
    const resource = new FencedResource();
    expect(resource.check("us-east:a", 7)).toEqual({ ok: true });
    expect(resource.admit("us-east:a", 3)).toEqual({ ok: true });
  });

  it("throws STALE_TOKEN from admitOrThrow", () => {
    const resource = new FencedResource();
    resource.admit("us-east:a", 2);
    expect(() => resource.admitOrThrow("us-east:a", 1)).toThrow(expect.objectContaining({ code: "STALE_TOKEN" }));
  });

  it("refuses new names when full rather than forget one", () => {
    const resource = new FencedResource({ namesMax: 2 });
    resource.admit("us-east:a", 1);
    resource.admit("us-east:b", 1);
    expect(resource.admit("us-east:c", 1).ok).toBe(false);
    expect(resource.admit("us-east:a", 2).ok).toBe(true);
  });

  it("refuses what is not a token", () => {
    const resource = new FencedResource();
    expect(() => resource.admit("us-east:a", 0)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    expect(() => resource.admit("us-east:a", 1.5)).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});
