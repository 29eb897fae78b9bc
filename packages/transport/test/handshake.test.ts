// The handshake state machines without sockets: a full exchange, and each way an attacker
// or a misconfigured node could try to get through (wrong secret, replay, reflection,
// wrong addressee, wrong direction, other protocol version, garbage).

import { describe, expect, it } from "vitest";
import { encodeValue } from "../src/codec.js";
import { AcceptorHandshake, CloseCode, DialerHandshake, NONCE_BYTES, PROTOCOL_VERSION, computeProof, type HandshakeStep } from "../src/handshake.js";

const secret = new Uint8Array(32).fill(7);
const configured = (peer: string): boolean => peer === "us-east/1" || peer === "us-east/2";

function acceptor(key = secret): AcceptorHandshake {
  return new AcceptorHandshake({ self: "us-east/2", secret: key }, configured);
}

function reply(step: HandshakeStep): Uint8Array {
  if (step.kind === "reply") return step.bytes;
  if (step.kind === "authenticated" && step.reply !== undefined) return step.reply;
  throw new Error(`expected a reply, got ${JSON.stringify(step)}`);
}

const refusal = (step: HandshakeStep): number | string => (step.kind === "refused" ? step.code : step.kind);

describe("handshake", () => {
  it("authenticates both sides when they share the secret", () => {
    const dialer = new DialerHandshake({ self: "us-east/1", secret }, "us-east/2");
    const a = acceptor();
    const challenge = reply(a.receive(dialer.hello()));
    const dialerStep = dialer.receive(challenge);
    expect(dialerStep.kind).toBe("authenticated");
    expect(a.receive(reply(dialerStep))).toStrictEqual({ kind: "authenticated", peer: "us-east/1", reply: undefined });
  });

  it("refuses at the dialer an acceptor that does not know the secret", () => {
    const dialer = new DialerHandshake({ self: "us-east/1", secret }, "us-east/2");
    const challenge = reply(acceptor(new Uint8Array(32).fill(8)).receive(dialer.hello()));
    expect(refusal(dialer.receive(challenge))).toBe(CloseCode.authFailed);
  });

  it("refuses at the acceptor a dialer that does not know the secret", () => {
    const wrongKey = new Uint8Array(32).fill(8);
    const nonceD = new Uint8Array(NONCE_BYTES).fill(3);
    const dialer = new DialerHandshake({ self: "us-east/1", secret: wrongKey, randomBytes: () => nonceD }, "us-east/2");
    const a = acceptor();
    const challenge = reply(a.receive(dialer.hello()));
    // The impostor cannot check proofA; it answers anyway with what its key gives.
    // Challenge bytes: 0x93, 0x02, 0xc4 0x20, nonceA (32), 0xc4 0x20, proofA (32).
    const nonceA = challenge.subarray(4, 4 + NONCE_BYTES);
    const forged = encodeValue([3, computeProof(wrongKey, "dialer", "us-east/1", "us-east/2", nonceD, nonceA)]);
    expect(refusal(a.receive(forged))).toBe(CloseCode.authFailed);
  });

  it("refuses a replayed proof: the acceptor drew a new nonce", () => {
    const dialer = new DialerHandshake({ self: "us-east/1", secret }, "us-east/2");
    const hello = dialer.hello();
    const first = acceptor();
    const proof = reply(dialer.receive(reply(first.receive(hello))));
    expect(first.receive(proof).kind).toBe("authenticated");
    const second = acceptor();
    reply(second.receive(hello));
    expect(refusal(second.receive(proof))).toBe(CloseCode.authFailed);
  });

  it("refuses a reflected proof: the acceptor's own proof is not a dialer's proof", () => {
    const a = acceptor();
    const nonceD = new Uint8Array(NONCE_BYTES).fill(1);
    const challenge = reply(a.receive(encodeValue([1, PROTOCOL_VERSION, "us-east/1", "us-east/2", nonceD])));
    const proofA = challenge.subarray(challenge.length - 32);
    expect(refusal(a.receive(encodeValue([3, proofA])))).toBe(CloseCode.authFailed);
  });

  it.each([
    ["an unconfigured dialer", [1, PROTOCOL_VERSION, "us-east/9", "us-east/2", new Uint8Array(NONCE_BYTES)], CloseCode.unknownPeer],
    ["a hello addressed to another node", [1, PROTOCOL_VERSION, "us-east/1", "us-east/3", new Uint8Array(NONCE_BYTES)], CloseCode.unknownPeer],
    ["a dialer claiming our own id", [1, PROTOCOL_VERSION, "us-east/2", "us-east/2", new Uint8Array(NONCE_BYTES)], CloseCode.unknownPeer],
    ["another protocol version", [1, PROTOCOL_VERSION + 1, "us-east/1", "us-east/2", new Uint8Array(NONCE_BYTES)], CloseCode.versionMismatch],
    ["a short nonce", [1, PROTOCOL_VERSION, "us-east/1", "us-east/2", new Uint8Array(8)], CloseCode.protocolError],
    ["a malformed id", [1, PROTOCOL_VERSION, "us east", "us-east/2", new Uint8Array(NONCE_BYTES)], CloseCode.protocolError],
    ["a frame instead of a hello", [["raft", {}]], CloseCode.protocolError],
  ])("refuses %s", (_name, hello, code) => {
    expect(refusal(acceptor().receive(encodeValue(hello)))).toBe(code);
  });

  it("refuses a dialer with the larger id: the smaller one dials", () => {
    const a = new AcceptorHandshake({ self: "us-east/1", secret }, configured);
    expect(refusal(a.receive(encodeValue([1, PROTOCOL_VERSION, "us-east/2", "us-east/1", new Uint8Array(NONCE_BYTES)])))).toBe(CloseCode.wrongDirection);
    expect(() => new DialerHandshake({ self: "us-east/2", secret }, "us-east/1")).toThrow(/must not dial/);
  });
});
