// What the harness accepts from a worker: the lock notes (maybe-held, maybe-granted) decode
// only with every field present and of its type; anything else is refused as null.
import { describe, expect, it } from "vitest";
import { decodeFromWorker } from "../src/harness/protocol.js";

describe("decodeFromWorker", () => {
  for (const t of ["maybe-held", "maybe-granted"] as const) {
    it(`decodes a ${t} note and refuses one with a missing or mistyped field`, () => {
      expect(decodeFromWorker({ t, lock: "us-east:k0", session: "us-east/c1", time: 12 })).toEqual({ t, lock: "us-east:k0", session: "us-east/c1", time: 12 });
      expect(decodeFromWorker({ t, lock: "us-east:k0", time: 12 })).toBeNull();
      expect(decodeFromWorker({ t, lock: "us-east:k0", session: "us-east/c1", time: -1 })).toBeNull();
      expect(decodeFromWorker({ t, lock: 7, session: "us-east/c1", time: 12 })).toBeNull();
    });
  }

  it("refuses an unknown message type", () => {
    expect(decodeFromWorker({ t: "maybe-anything", lock: "k", session: "s", time: 1 })).toBeNull();
  });
});
