// The conservative lease deadline, with an injected clock: it starts from when the
// keep-alive was sent, not answered; a deadline that passed stays passed.

import { afterEach, describe, expect, it } from "vitest";
import { conservativeDeadline, RegionSession, safetyMarginMs, type RenewOutcome } from "../src/session.js";

class ManualClock {
  t = 1_000;
  now(): number {
    return this.t;
  }
}

const sessions: RegionSession[] = [];
afterEach(() => {
  for (const s of sessions) s.closeLocally();
  sessions.length = 0;
});

function session(clock: ManualClock, ttlMs: number, onLost: () => void = () => undefined): RegionSession {
  const renew = (): Promise<RenewOutcome> => new Promise(() => undefined);
  const s = new RegionSession("us-east", 7, ttlMs, clock.now(), clock, { renew, onLost });
  sessions.push(s);
  return s;
}

describe("conservative deadline", () => {
  it("is the send time plus the TTL, less a margin of 1% and 20 ms", () => {
    expect(safetyMarginMs(10_000)).toBe(120);
    expect(conservativeDeadline(5_000, 10_000)).toBe(14_880);
  });

  it("moves forward with a keep-alive by its send time, never back", () => {
    const clock = new ManualClock();
    const s = session(clock, 10_000);
    expect(s.deadlineMs).toBe(conservativeDeadline(1_000, 10_000));
    clock.t = 4_000;
    s.extend(3_000);
    expect(s.deadlineMs).toBe(conservativeDeadline(3_000, 10_000));
    s.extend(2_000);
    expect(s.deadlineMs).toBe(conservativeDeadline(3_000, 10_000));
  });

  it("does not revive a session whose deadline passed before the keep-alive was answered", () => {
    const clock = new ManualClock();
    let lost = 0;
    const s = session(clock, 1_000, () => (lost += 1));
    clock.t = 1_000 + 1_000;
    s.extend(1_900);
    expect(s.status).toBe("lost");
    expect(lost).toBe(1);
    expect(s.isLive()).toBe(false);
  });
});
