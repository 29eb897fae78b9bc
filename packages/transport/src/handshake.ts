// Mutual authentication of a peer link, as two small state machines with no I/O.
//
//   dialer -> acceptor  hello     [1, version, dialerId, acceptorId, nonceD]
//   acceptor -> dialer  challenge [2, nonceA, proofA]   proofA = HMAC(secret, "acceptor", ids, nonceD, nonceA)
//   dialer -> acceptor  proof     [3, proofD]           proofD = HMAC(secret, "dialer",   ids, nonceD, nonceA)
//
// Each side's proof covers a nonce the other side just drew, so a recorded handshake
// cannot be replayed; the direction label differs, so a proof cannot be reflected back to
// its author; both ids are covered, so a proof for one pair is worthless for another.
// The dialer trusts the acceptor once proofA checks out; the acceptor trusts the dialer
// once proofD does. Nothing else is read from a socket before that.

import { createHmac, randomBytes as cryptoRandomBytes, timingSafeEqual } from "node:crypto";
import { decodePlain, encodeValue } from "./codec.js";
import { isPeerId, type PeerId } from "./types.js";

/**
 * The peer protocol's version, which also names what the replicated commands mean: nodes
 * of different versions refuse each other, so a cluster never mixes two meanings.
 * 2: a global lock's holder asking again gets a new grant with a new token (1: its old one).
 */
export const PROTOCOL_VERSION = 2;
export const NONCE_BYTES = 32;
const PROOF_BYTES = 32;
/** Handshake messages are tiny; anything larger before authentication is refused unread. */
export const HANDSHAKE_MAX_BYTES = 512;
const PROOF_DOMAIN = "geolock/peer-auth/v1";

/** WebSocket close codes of the peer protocol (4000-4999 is the application range). */
export const CloseCode = {
  goingAway: 1001,
  protocolError: 4000,
  authFailed: 4001,
  unknownPeer: 4002,
  wrongDirection: 4003,
  heartbeatTimeout: 4004,
  replaced: 4005,
  handshakeTimeout: 4006,
  versionMismatch: 4007,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The fixed dial rule: of two peers, the one with the lexically smaller id dials. */
export function dials(self: PeerId, peer: PeerId): boolean {
  return self < peer;
}

export type HandshakeStep =
  | { readonly kind: "reply"; readonly bytes: Uint8Array }
  | { readonly kind: "authenticated"; readonly peer: PeerId; readonly reply: Uint8Array | undefined }
  /** `peer` is set once the other side has named a configured peer, for per-peer counters. */
  | { readonly kind: "refused"; readonly code: CloseCode; readonly reason: string; readonly peer: PeerId | undefined };

export type RandomBytes = (size: number) => Uint8Array;

export interface HandshakeIdentity {
  readonly self: PeerId;
  readonly secret: Uint8Array;
  readonly randomBytes?: RandomBytes;
}

type Role = "dialer" | "acceptor";

/** HMAC-SHA256 over the domain, the role, both ids (length-prefixed) and both nonces. */
export function computeProof(secret: Uint8Array, role: Role, dialer: PeerId, acceptor: PeerId, nonceD: Uint8Array, nonceA: Uint8Array): Uint8Array {
  const hmac = createHmac("sha256", secret);
  for (const part of [PROOF_DOMAIN, role, dialer, acceptor]) {
    const encoded = Buffer.from(part, "utf8");
    hmac.update(Uint8Array.of(encoded.length >>> 8, encoded.length & 0xff));
    hmac.update(encoded);
  }
  hmac.update(nonceD);
  hmac.update(nonceA);
  return new Uint8Array(hmac.digest());
}

function proofMatches(expected: Uint8Array, actual: Uint8Array): boolean {
  return actual.length === expected.length && timingSafeEqual(expected, actual);
}

function refused(code: CloseCode, reason: string, peer?: PeerId): HandshakeStep {
  return { kind: "refused", code, reason, peer };
}

function draw(identity: HandshakeIdentity): Uint8Array {
  const nonce = (identity.randomBytes ?? cryptoRandomBytes)(NONCE_BYTES);
  if (nonce.length !== NONCE_BYTES) throw new Error(`randomBytes returned ${nonce.length} bytes, wanted ${NONCE_BYTES}`);
  return new Uint8Array(nonce);
}

/** Decodes a handshake message of the expected tag; `undefined` for anything else. */
function decodeTagged(bytes: Uint8Array, tag: number, length: number): unknown[] | undefined {
  if (bytes.length > HANDSHAKE_MAX_BYTES) return undefined;
  const decoded = decodePlain(bytes, 2);
  if (!decoded.ok || !Array.isArray(decoded.value)) return undefined;
  const fields: unknown[] = decoded.value;
  return fields.length === length && fields[0] === tag ? fields : undefined;
}

function isBytes(value: unknown, size: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === size;
}

/** The accepting side: waits for hello, answers with a challenge, checks the proof. */
export class AcceptorHandshake {
  private state: "awaitHello" | "awaitProof" | "done" = "awaitHello";
  private dialer: PeerId | undefined;
  private nonceD: Uint8Array | undefined;
  private nonceA: Uint8Array | undefined;

  constructor(
    private readonly identity: HandshakeIdentity,
    private readonly isConfiguredPeer: (peer: PeerId) => boolean,
  ) {}

  receive(bytes: Uint8Array): HandshakeStep {
    switch (this.state) {
      case "awaitHello":
        return this.onHello(bytes);
      case "awaitProof":
        return this.onProof(bytes);
      case "done":
        throw new Error(`acceptor handshake with ${String(this.dialer)} received a message after finishing`);
    }
  }

  private onHello(bytes: Uint8Array): HandshakeStep {
    this.state = "done";
    const fields = decodeTagged(bytes, 1, 5);
    if (fields === undefined) return refused(CloseCode.protocolError, "expected hello");
    const [, version, dialer, acceptor, nonceD] = fields;
    if (version !== PROTOCOL_VERSION) return refused(CloseCode.versionMismatch, `protocol version ${String(version)}, expected ${PROTOCOL_VERSION}`);
    if (!isPeerId(dialer) || !isPeerId(acceptor) || !isBytes(nonceD, NONCE_BYTES)) return refused(CloseCode.protocolError, "malformed hello");
    if (acceptor !== this.identity.self) return refused(CloseCode.unknownPeer, `hello addressed to ${acceptor}, this is ${this.identity.self}`);
    if (dialer === this.identity.self || !this.isConfiguredPeer(dialer)) return refused(CloseCode.unknownPeer, `unknown peer ${dialer}`);
    if (!dials(dialer, this.identity.self)) return refused(CloseCode.wrongDirection, `${dialer} must wait for ${this.identity.self} to dial`, dialer);
    this.dialer = dialer;
    this.nonceD = nonceD;
    this.nonceA = draw(this.identity);
    const proof = computeProof(this.identity.secret, "acceptor", dialer, this.identity.self, nonceD, this.nonceA);
    this.state = "awaitProof";
    return { kind: "reply", bytes: encodeValue([2, this.nonceA, proof]) };
  }

  private onProof(bytes: Uint8Array): HandshakeStep {
    this.state = "done";
    const dialer = this.dialer!;
    const fields = decodeTagged(bytes, 3, 2);
    if (fields === undefined || !isBytes(fields[1], PROOF_BYTES)) return refused(CloseCode.protocolError, "expected proof", dialer);
    const expected = computeProof(this.identity.secret, "dialer", dialer, this.identity.self, this.nonceD!, this.nonceA!);
    if (!proofMatches(expected, fields[1])) return refused(CloseCode.authFailed, `wrong proof from ${dialer}`, dialer);
    return { kind: "authenticated", peer: dialer, reply: undefined };
  }
}

/** The dialing side: sends hello, checks the acceptor's proof, answers with its own. */
export class DialerHandshake {
  private state: "start" | "awaitChallenge" | "done" = "start";
  private readonly nonceD: Uint8Array;

  constructor(
    private readonly identity: HandshakeIdentity,
    private readonly peer: PeerId,
  ) {
    if (!dials(identity.self, peer)) throw new Error(`${identity.self} must not dial ${peer}: the smaller id dials`);
    this.nonceD = draw(identity);
  }

  hello(): Uint8Array {
    if (this.state !== "start") throw new Error(`dialer handshake to ${this.peer} already started (state ${this.state})`);
    this.state = "awaitChallenge";
    return encodeValue([1, PROTOCOL_VERSION, this.identity.self, this.peer, this.nonceD]);
  }

  receive(bytes: Uint8Array): HandshakeStep {
    if (this.state !== "awaitChallenge") throw new Error(`dialer handshake to ${this.peer} received a message in state ${this.state}`);
    this.state = "done";
    const fields = decodeTagged(bytes, 2, 3);
    if (fields === undefined) return refused(CloseCode.protocolError, "expected challenge", this.peer);
    const [, nonceA, proofA] = fields;
    if (!isBytes(nonceA, NONCE_BYTES) || !isBytes(proofA, PROOF_BYTES)) return refused(CloseCode.protocolError, "malformed challenge", this.peer);
    const expected = computeProof(this.identity.secret, "acceptor", this.identity.self, this.peer, this.nonceD, nonceA);
    if (!proofMatches(expected, proofA)) return refused(CloseCode.authFailed, `wrong proof from ${this.peer}`, this.peer);
    const proofD = computeProof(this.identity.secret, "dialer", this.identity.self, this.peer, this.nonceD, nonceA);
    return { kind: "authenticated", peer: this.peer, reply: encodeValue([3, proofD]) };
  }
}
