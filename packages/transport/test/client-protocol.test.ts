// The client protocol's request parser: what it accepts, and that anything else is refused
// with INVALID_ARGUMENT naming the problem, before other code sees it.

import { describe, expect, it } from "vitest";
import { isWatchRequest, parseClientRequest } from "../src/client-protocol.js";

const invalid = (pattern: RegExp) => expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringMatching(pattern) });

describe("parseClientRequest", () => {
  it("reads a watch and an unwatch, which are served for the connection", () => {
    const watch = parseClientRequest({ id: 4, op: "watch", name: "us-east:x", watchId: 12 });
    expect(watch).toEqual({ id: 4, op: "watch", name: "us-east:x", watchId: 12 });
    expect(isWatchRequest(watch)).toBe(true);
    const unwatch = parseClientRequest({ id: 5, op: "unwatch", watchId: 12 });
    expect(unwatch).toEqual({ id: 5, op: "unwatch", watchId: 12 });
    expect(isWatchRequest(unwatch)).toBe(true);
    expect(isWatchRequest(parseClientRequest({ id: 6, op: "status", name: "us-east:x" }))).toBe(false);
  });

  it("refuses a watch without a usable watchId or name, or with anything riding along", () => {
    expect(() => parseClientRequest({ id: 1, op: "watch", name: "us-east:x" })).toThrow(invalid(/watchId/));
    expect(() => parseClientRequest({ id: 1, op: "watch", name: "us-east:x", watchId: -1 })).toThrow(invalid(/watchId/));
    expect(() => parseClientRequest({ id: 1, op: "watch", name: "us-east:x", watchId: 1.5 })).toThrow(invalid(/watchId/));
    expect(() => parseClientRequest({ id: 1, op: "watch", name: 7, watchId: 1 })).toThrow(invalid(/name/));
    expect(() => parseClientRequest({ id: 1, op: "watch", name: "us-east:x", watchId: 1, sessionId: 2 })).toThrow(invalid(/unexpected field "sessionId"/));
    expect(() => parseClientRequest({ id: 1, op: "unwatch", watchId: 1, name: "us-east:x" })).toThrow(invalid(/unexpected field "name"/));
  });

  it("refuses an unknown op, a missing id and a field of the wrong type", () => {
    expect(() => parseClientRequest({ id: 1, op: "subscribe", name: "us-east:x" })).toThrow(invalid(/op must be one of/));
    expect(() => parseClientRequest({ op: "status", name: "us-east:x" })).toThrow(invalid(/id must be/));
    expect(() => parseClientRequest({ id: 1, op: "release", name: "us-east:x", sessionId: "3", clientId: "c", seq: 1 })).toThrow(invalid(/sessionId/));
    expect(() => parseClientRequest([1, 2])).toThrow(invalid(/map/));
  });
});
