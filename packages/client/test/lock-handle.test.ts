import { describe, expect, it } from "vitest";
import { GeolockError } from "../src/errors.js";
import { LockHandle, type HandleControl } from "../src/lock-handle.js";

const INIT = { name: "us-east:h", mode: "exclusive", token: 7, sessionId: 3, region: "us-east", owner: "t", sessionReplaced: false } as const;

function makeHandle(events: string[] = []): HandleControl {
  return LockHandle.create(INIT, () => Promise.resolve(), () => 1_000, () => events.push("onLost"));
}

describe("LockHandle", () => {
  it("fires a listener added while held, once, after telling the library", () => {
    const events: string[] = [];
    const control = makeHandle(events);
    control.handle.lost.addEventListener("abort", () => events.push("listener"));
    const reason = new GeolockError("LOCK_LOST", "gone");
    control.markLost(reason);
    control.markLost(new GeolockError("LOCK_LOST", "again"));
    expect(events).toEqual(["onLost", "listener"]);
    expect(control.handle.lost.reason).toBe(reason);
    expect(control.handle.state).toBe("lost");
  });

  it("hands out an already aborted signal when `lost` is first read after the loss", () => {
    const control = makeHandle();
    const reason = new GeolockError("LOCK_LOST", "gone");
    control.markLost(reason);
    expect(control.handle.lost.aborted).toBe(true);
    expect(control.handle.lost.reason).toBe(reason);
    expect(() => control.handle.throwIfLost()).toThrow(reason);
    return expect(control.handle.release()).rejects.toBe(reason);
  });

  it("stays released: a later loss neither aborts nor tells the library", async () => {
    const events: string[] = [];
    const control = makeHandle(events);
    await control.handle.release();
    control.markReleased();
    control.markLost(new GeolockError("LOCK_LOST", "too late"));
    expect(control.handle.state).toBe("released");
    expect(control.handle.lost.aborted).toBe(false);
    expect(events).toEqual([]);
    expect(control.handle.remainingMs()).toBe(0);
  });
});
