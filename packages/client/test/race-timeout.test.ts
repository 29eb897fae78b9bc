// raceTimeout, which bounds every connect and wait of the client: its timer must last as
// long as asked even beyond setTimeout's range (Node fires a longer timer after 1 ms), and
// nothing of it may outlive the race.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { raceTimeout } from "../src/caller.js";

const DAY_MS = 24 * 3_600_000;
const never = (): Promise<never> => new Promise<never>(() => undefined);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Whether `promise` has settled once the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

describe("raceTimeout", () => {
  it("waits 30 days when asked to, past setTimeout's 24.8-day range, then ends with undefined", async () => {
    const race = raceTimeout(never(), 30 * DAY_MS, undefined);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(race)).toBe(false);
    await vi.advanceTimersByTimeAsync(25 * DAY_MS);
    expect(await settled(race)).toBe(false);
    await vi.advanceTimersByTimeAsync(5 * DAY_MS - 2);
    expect(await settled(race)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await race).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends a short wait on time, and gives the promise's value when it comes first", async () => {
    const short = raceTimeout(never(), 10, undefined);
    await vi.advanceTimersByTimeAsync(9);
    expect(await settled(short)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await short).toBeUndefined();

    const answered = raceTimeout(Promise.resolve("answer"), 30 * DAY_MS, undefined);
    expect(await answered).toBe("answer");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ends at once on an abort, leaving no timer behind", async () => {
    const controller = new AbortController();
    const race = raceTimeout(never(), 30 * DAY_MS, controller.signal);
    controller.abort();
    expect(await race).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});
