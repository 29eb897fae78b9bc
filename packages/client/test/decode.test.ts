// What the client accepts from a node as a push: the watch pushes decode field by field, and
// anything malformed (wrong kind, missing or out-of-range fields, a reason that does not
// fit) is refused with PROTOCOL before the library uses it.

import { describe, expect, it } from "vitest";
import { decodeServerMessage } from "../src/decode.js";

const protocolError = (pattern: RegExp) => expect.objectContaining({ code: "PROTOCOL", message: expect.stringMatching(pattern) });

const lockChanged = { push: "lockChanged", watchId: 2, name: "us-east:x", index: 9, change: "released", sessionId: 4, owner: "o", mode: "shared", token: 7, reason: "expired" };
const globalChanged = { push: "globalLockChanged", watchId: 3, name: "global:x", index: 5, change: "acquired", holder: { region: "us-west", clientId: "gl-a", owner: "o" }, token: 8 };

describe("watch pushes from a node", () => {
  it("decodes a regional and a global change, and a watchEnded", () => {
    expect(decodeServerMessage(lockChanged)).toEqual({ kind: "push", push: lockChanged });
    expect(decodeServerMessage(globalChanged)).toEqual({ kind: "push", push: globalChanged });
    const ended = { push: "watchEnded", watchId: 3, name: "global:x", reason: "snapshot" };
    expect(decodeServerMessage(ended)).toEqual({ kind: "push", push: ended });
  });

  it("keeps only the fields it knows", () => {
    const decoded = decodeServerMessage({ ...globalChanged, extra: "x", holder: { ...globalChanged.holder, secret: 1 } });
    expect(decoded).toEqual({ kind: "push", push: globalChanged });
  });

  it("refuses a change that is neither acquired nor released, or a reason its kind of lock cannot have", () => {
    expect(() => decodeServerMessage({ ...lockChanged, change: "stolen" })).toThrow(protocolError(/push.change/));
    expect(() => decodeServerMessage({ ...lockChanged, reason: undefined })).toThrow(protocolError(/push.reason/));
    // A global lock has no session to close.
    expect(() => decodeServerMessage({ ...globalChanged, change: "released", reason: "closed" })).toThrow(protocolError(/push.reason/));
    expect(decodeServerMessage({ ...globalChanged, change: "released", reason: "expired" })).toMatchObject({ push: { reason: "expired" } });
  });

  it("refuses missing, mistyped and out-of-range fields", () => {
    expect(() => decodeServerMessage({ ...lockChanged, index: 0 })).toThrow(protocolError(/push.index/));
    expect(() => decodeServerMessage({ ...lockChanged, token: -1 })).toThrow(protocolError(/push.token/));
    expect(() => decodeServerMessage({ ...lockChanged, watchId: "2" })).toThrow(protocolError(/push.watchId/));
    expect(() => decodeServerMessage({ ...lockChanged, mode: "both" })).toThrow(protocolError(/push.mode/));
    expect(() => decodeServerMessage({ ...lockChanged, owner: "o".repeat(5_000) })).toThrow(protocolError(/push.owner/));
    expect(() => decodeServerMessage({ ...globalChanged, holder: null })).toThrow(protocolError(/push.holder/));
    expect(() => decodeServerMessage({ ...globalChanged, holder: { region: "us-west", owner: "o" } })).toThrow(protocolError(/push.holder.clientId/));
    expect(() => decodeServerMessage({ push: "watchEnded", watchId: 1, name: "global:x" })).toThrow(protocolError(/push.reason/));
    expect(() => decodeServerMessage({ push: "somethingElse" })).toThrow(protocolError(/push must be/));
  });
});
