// SendQueue: the bounds on what waits for a peer, and how queued envelopes are cut into
// frames that respect maxFrameBytes and maxEnvelopesPerFrame.

import { describe, expect, it } from "vitest";
import { decodeFrame, encodeEnvelope } from "../src/codec.js";
import { SendQueue } from "../src/send-queue.js";
import { DEFAULT_LIMITS } from "../src/types.js";

const limits = { maxQueuedMessages: 100, maxQueuedBytes: 10_000, maxFrameBytes: 1000, maxEnvelopesPerFrame: 20 };
const envelope = (size: number): Uint8Array => encodeEnvelope("c", new Uint8Array(size));

describe("SendQueue", () => {
  it("cuts queued envelopes into frames within maxFrameBytes, oldest first", () => {
    const queue = new SendQueue(limits);
    for (let i = 0; i < 9; i++) expect(queue.push(encodeEnvelope("c", i))).toBe("queued");
    for (let i = 0; i < 5; i++) expect(queue.push(envelope(300))).toBe("queued");
    const frames = [];
    for (let frame = queue.takeFrame(); frame !== undefined; frame = queue.takeFrame()) frames.push(frame);
    // Envelopes: 9 x 4 bytes, then 5 x 306 (bin16 header). The budget is 1000 - 5 header
    // bytes: 36 + 3 x 306 = 954 fits, a fourth 306 does not.
    expect(frames.map((f) => f.messages)).toStrictEqual([12, 2]);
    for (const { frame } of frames) expect(frame.length).toBeLessThanOrEqual(limits.maxFrameBytes);
    const decoded = frames.flatMap(({ frame }) => {
      const result = decodeFrame(frame, DEFAULT_LIMITS);
      if (!result.ok) throw new Error(result.reason);
      return result.envelopes.map(([, payload]) => (payload instanceof Uint8Array ? payload.length : payload));
    });
    expect(decoded).toStrictEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 300, 300, 300, 300, 300]);
    expect(queue.messages).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it("caps envelopes per frame", () => {
    const queue = new SendQueue(limits);
    for (let i = 0; i < 45; i++) queue.push(encodeEnvelope("c", i));
    expect([queue.takeFrame()?.messages, queue.takeFrame()?.messages, queue.takeFrame()?.messages, queue.takeFrame()]).toStrictEqual([20, 20, 5, undefined]);
  });

  it("refuses beyond maxQueuedMessages and maxQueuedBytes, and an envelope that can never fit a frame", () => {
    const byCount = new SendQueue({ ...limits, maxQueuedMessages: 2 });
    expect([1, 2, 3].map((i) => byCount.push(encodeEnvelope("c", i)))).toStrictEqual(["queued", "queued", "droppedQueueFull"]);
    const byBytes = new SendQueue({ ...limits, maxQueuedBytes: 700 });
    expect([0, 1, 2].map(() => byBytes.push(envelope(300)))).toStrictEqual(["queued", "queued", "droppedQueueFull"]);
    expect(byBytes.bytes).toBeLessThanOrEqual(700);
    expect(new SendQueue(limits).push(envelope(limits.maxFrameBytes))).toBe("droppedTooLarge");
  });
});
