// The table of who watches which lock on a node: which watches a change reaches, how a
// closed connection's watches go away, and the limits that bound its memory.

import type { ClientPush } from "@geolock/transport";
import { describe, expect, it } from "vitest";
import { LockWatches, type WatchSink } from "../src/lock-watches.js";

function sink(): WatchSink & { readonly pushed: ClientPush[] } {
  const pushed: ClientPush[] = [];
  return { pushed, push: (message) => void pushed.push(message) };
}

const holder = (token: number, owner = "w") => ({ sessionId: 3, owner, mode: "exclusive" as const, token });

describe("LockWatches", () => {
  it("pushes a change to every watch of its name, and to no other", () => {
    const watches = new LockWatches();
    const [one, two, other] = [sink(), sink(), sink()];
    watches.watch(one, 1, "r:x", 0);
    watches.watch(two, 9, "r:x", 0);
    watches.watch(other, 1, "r:y", 0);
    watches.acquired(5, "r:x", holder(4));
    watches.released(6, "r:x", holder(4), "expired");
    expect(one.pushed).toEqual([
      { push: "lockChanged", watchId: 1, name: "r:x", index: 5, change: "acquired", sessionId: 3, owner: "w", mode: "exclusive", token: 4 },
      { push: "lockChanged", watchId: 1, name: "r:x", index: 6, change: "released", sessionId: 3, owner: "w", mode: "exclusive", token: 4, reason: "expired" },
    ]);
    expect(two.pushed.map((p) => p.push === "lockChanged" && p.watchId)).toEqual([9, 9]);
    expect(other.pushed).toEqual([]);
  });

  it("announces a grant only if its token is above every one announced or current when the watch began", () => {
    const watches = new LockWatches();
    const s = sink();
    watches.watch(s, 1, "r:x", 7);
    watches.acquired(10, "r:x", holder(7));
    watches.acquired(11, "r:x", holder(8));
    watches.acquired(12, "r:x", holder(8));
    expect(s.pushed.map((p) => p.push === "lockChanged" && p.token)).toEqual([8]);
  });

  it("forgets a closed connection's watches, and a name nobody watches any more", () => {
    const watches = new LockWatches();
    const [gone, stays] = [sink(), sink()];
    watches.watch(gone, 1, "r:x", 0);
    watches.watch(gone, 2, "r:y", 0);
    watches.watch(stays, 1, "r:y", 0);
    watches.dropSink(gone);
    expect(watches.size).toBe(1);
    expect(watches.watching("r:x")).toBe(false);
    expect(watches.watching("r:y")).toBe(true);
    watches.acquired(3, "r:y", holder(1));
    expect(gone.pushed).toEqual([]);
    expect(stays.pushed).toHaveLength(1);
    expect(watches.unwatch(stays, 1)).toBe(true);
    expect(watches.unwatch(stays, 1)).toBe(false);
    expect(watches.size).toBe(0);
  });

  it("replaces a watch whose id is reused on the same connection, and still ends it with the connection", () => {
    const watches = new LockWatches();
    const s = sink();
    watches.watch(s, 1, "r:x", 0);
    watches.watch(s, 1, "r:y", 0);
    expect(watches.size).toBe(1);
    expect(watches.watching("r:x")).toBe(false);
    watches.acquired(2, "r:y", holder(1));
    expect(s.pushed).toHaveLength(1);
    // The replacement must be the connection's, not an orphan only its name knows.
    watches.dropSink(s);
    expect(watches.size).toBe(0);
    expect(watches.watching("r:y")).toBe(false);
  });

  it("refuses watches beyond a connection's limit and beyond the node's, with OVERLOADED", () => {
    const watches = new LockWatches({ watchesPerConnectionMax: 2, watchesMax: 3 });
    const [a, b] = [sink(), sink()];
    watches.watch(a, 1, "r:1", 0);
    watches.watch(a, 2, "r:2", 0);
    expect(() => watches.watch(a, 3, "r:3", 0)).toThrow(expect.objectContaining({ code: "OVERLOADED" }));
    watches.watch(b, 1, "r:1", 0);
    expect(() => watches.watch(b, 2, "r:2", 0)).toThrow(expect.objectContaining({ code: "OVERLOADED" }));
    expect(watches.size).toBe(3);
  });

  it("ends every watch with a watchEnded push", () => {
    const watches = new LockWatches();
    const [a, b] = [sink(), sink()];
    watches.watch(a, 4, "r:x", 0);
    watches.watch(b, 5, "r:y", 0);
    watches.endAll("restored a snapshot");
    expect(a.pushed).toEqual([{ push: "watchEnded", watchId: 4, name: "r:x", reason: "restored a snapshot" }]);
    expect(b.pushed).toEqual([{ push: "watchEnded", watchId: 5, name: "r:y", reason: "restored a snapshot" }]);
    expect(watches.size).toBe(0);
    watches.acquired(1, "r:x", holder(1));
    expect(a.pushed).toHaveLength(1);
  });
});

describe("LockWatches for global keys", () => {
  const holder = { region: "us-west", clientId: "c1", owner: "o" };

  it("pushes globalLockChanged with the holder and why it went, and skips a grant it announced already", () => {
    const watches = new LockWatches();
    const s = sink();
    watches.watch(s, 3, "global:x", 4);
    watches.globalChanged(7, "global:x", holder, 4, undefined);
    watches.globalChanged(8, "global:x", holder, 5, undefined);
    watches.globalChanged(8, "global:x", holder, 5, undefined);
    watches.globalChanged(9, "global:x", holder, 5, "expired");
    expect(s.pushed).toEqual([
      { push: "globalLockChanged", watchId: 3, name: "global:x", index: 8, change: "acquired", holder, token: 5 },
      { push: "globalLockChanged", watchId: 3, name: "global:x", index: 9, change: "released", holder, token: 5, reason: "expired" },
    ]);
  });

  it("ends the watches of one name with watchEnded and keeps the others", () => {
    const watches = new LockWatches();
    const [a, b] = [sink(), sink()];
    watches.watch(a, 1, "global:x", 0);
    watches.watch(b, 2, "global:x", 0);
    watches.watch(b, 3, "global:y", 0);
    watches.endName("global:x", "installed past skipped instances");
    expect(a.pushed).toEqual([{ push: "watchEnded", watchId: 1, name: "global:x", reason: "installed past skipped instances" }]);
    expect(b.pushed).toEqual([{ push: "watchEnded", watchId: 2, name: "global:x", reason: "installed past skipped instances" }]);
    expect(watches.size).toBe(1);
    expect(watches.watching("global:x")).toBe(false);
    expect(watches.watching("global:y")).toBe(true);
  });
});
