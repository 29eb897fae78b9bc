// Fuzzing the receive path over a real authenticated link. A raw peer authenticates by hand,
// sends one generated frame, then a valid probe message. For each frame we know offline
// whether it is valid; an invalid one must close the link (code 4000) with nothing
// delivered and the probe never arriving, a valid one must deliver its messages and the
// probe. Across all cases no handler ever sees a message the oracle calls malformed, and
// the process survives to assert it.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import type { Index, Message, NodeId, Term } from "@geolock/raft";
import { buildFrame, decodeFrame, encodeEnvelope, encodeValue } from "../src/codec.js";
import { CloseCode } from "../src/handshake.js";
import { validateRaftMessage } from "../src/raft-validation.js";
import { DEFAULT_LIMITS, type TransportLimits } from "../src/types.js";
import { WsTransport } from "../src/ws-transport.js";
import { connectRawPeer, newSecret, startPeerServer, waitFor, type PeerServer } from "./helpers.js";
import { isWellFormed, mutatedMessage, nastyValue, validMessage } from "./raft-arbitraries.js";

const LIMITS: Partial<TransportLimits> = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 5000, closeGraceMs: 200, maxFrameBytes: 64 * 1024 };
const secret = newSecret();
let server: PeerServer;
let transport: WsTransport;
const delivered: Message[] = [];

beforeAll(async () => {
  server = await startPeerServer();
  transport = new WsTransport({ self: "us-east/2", secret, peers: new Map([["us-east/1", "ws://127.0.0.1:1/peer"]]), limits: LIMITS });
  // The plain validator, without the sender binding, so that fuzzed from/to values are
  // judged by the message rules rather than all refused for naming the wrong node.
  transport.registerChannel("raft", (x) => validateRaftMessage(x), (_from, message) => delivered.push(message));
  server.transport = transport;
  transport.start();
});

afterAll(async () => {
  await transport.close();
  await server.close();
});

let probeCommit = 1_000_000;
const probe = (commit: number): Message => ({
  type: "heartbeat",
  from: 1 as NodeId,
  to: 2 as NodeId,
  term: 1 as Term,
  commit: commit as Index,
  context: new Uint8Array(),
});

/** What the receiver should make of `frame`: its messages, or undefined if it must be refused. */
function expectedMessages(frame: Uint8Array): Message[] | undefined {
  const decoded = decodeFrame(frame, { ...DEFAULT_LIMITS, ...LIMITS });
  if (!decoded.ok) return undefined;
  const messages: Message[] = [];
  for (const [channel, payload] of decoded.envelopes) {
    const result = channel === "raft" ? validateRaftMessage(payload) : undefined;
    if (result === undefined || !result.ok) return undefined;
    messages.push(result.value);
  }
  return messages;
}

async function sendOne(frame: Uint8Array): Promise<void> {
  const expected = expectedMessages(frame);
  const peer = await connectRawPeer(server.url, "us-east/1", "us-east/2", secret);
  const start = delivered.length;
  const commit = (probeCommit += 1);
  peer.ws.send(frame);
  peer.ws.send(buildFrame([encodeEnvelope("raft", probe(commit))]));
  let closedWith: number | undefined;
  void peer.closed.then((code) => (closedWith = code));
  const probeArrived = (): boolean => delivered.slice(start).some((m) => m.type === "heartbeat" && m.commit === commit);
  await waitFor("the link to close or the probe to arrive", () => closedWith !== undefined || probeArrived(), 5000);
  const during = delivered.slice(start);
  if (expected === undefined) {
    expect(closedWith).toBe(CloseCode.protocolError);
    expect(during).toStrictEqual([]);
  } else {
    expect(probeArrived()).toBe(true);
    expect(during).toStrictEqual([...expected, probe(commit)]);
    peer.ws.terminate();
  }
  for (const message of delivered) expect(isWellFormed(message)).toBe(true);
}

const frameOf = (payloads: unknown[]): Uint8Array => encodeValue(payloads.map((p) => ["raft", p]));

describe("the receive path under fuzzed frames", () => {
  it("closes the link on random bytes, unless they happen to form a valid frame", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), sendOne), { numRuns: 30 });
  });

  it("delivers exactly the valid messages of mutated frames, and refuses the rest", async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.oneof(validMessage, mutatedMessage), { minLength: 1, maxLength: 3 }).map(frameOf), sendOne), {
      numRuns: 40,
    });
  });

  it("refuses frames of the wrong shape: bad envelopes, unknown channels, extra nesting", async () => {
    // Every shape must be refused; the one exception is a bare empty array, which is a
    // legal (empty) frame. The expectation is stated here, not derived from the decoder.
    const shapes = fc.tuple(validMessage, nastyValue).chain(([message, nasty]) =>
      fc.constantFrom<{ readonly value: unknown; readonly refused: boolean }>(
        { value: [["raft"]], refused: true },
        { value: [["raft", message, nasty]], refused: true },
        { value: [["paxos", message]], refused: true },
        { value: [[7, message]], refused: true },
        { value: [[["raft", message]]], refused: true },
        { value: { raft: message }, refused: true },
        { value: ["raft", message], refused: true },
        { value: nasty, refused: !(Array.isArray(nasty) && nasty.length === 0) },
        { value: [nasty], refused: true },
      ),
    );
    await fc.assert(
      fc.asyncProperty(shapes, async ({ value, refused }) => {
        const frame = encodeValue(value);
        expect(expectedMessages(frame) === undefined).toBe(refused);
        await sendOne(frame);
      }),
      { numRuns: 40 },
    );
  });

  it("survives bit flips and truncation of valid frames", async () => {
    const damaged = fc
      .tuple(validMessage, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean())
      .map(([message, at, xor, truncate]) => {
        const frame = frameOf([message]).slice();
        const position = at % frame.length;
        if (truncate) return frame.subarray(0, position);
        frame[position]! ^= xor;
        return frame;
      })
      .filter((frame) => frame.length > 0);
    await fc.assert(fc.asyncProperty(damaged, sendOne), { numRuns: 40 });
  });

  it("refuses a frame above maxFrameBytes without reading it", async () => {
    const peer = await connectRawPeer(server.url, "us-east/1", "us-east/2", secret);
    const before = delivered.length;
    peer.ws.send(new Uint8Array(LIMITS.maxFrameBytes! + 1));
    // ws enforces maxPayload itself: 1009 "message too big".
    expect(await peer.closed).toBe(1009);
    expect(delivered.length).toBe(before);
  });
});
