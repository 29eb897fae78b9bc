// Runs a handshake state machine over a WebSocket: feeds it each message, sends its
// replies, enforces the handshake deadline, and on success hands the socket over
// synchronously, so that a frame arriving in the same TCP read as the last handshake
// message already meets the authenticated listener and is never read unauthenticated.

import type { WebSocket } from "ws";
import { CloseCode, HANDSHAKE_MAX_BYTES, type HandshakeStep } from "./handshake.js";
import type { PeerId } from "./types.js";

export interface HandshakeCallbacks {
  authenticated(peer: PeerId): void;
  refused(code: CloseCode, reason: string, peer: PeerId | undefined): void;
}

/** Converts ws's RawData (Buffer, ArrayBuffer or fragments) into one Uint8Array. */
export function rawBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export function runHandshake(
  ws: WebSocket,
  machine: { receive(bytes: Uint8Array): HandshakeStep },
  timeoutMs: number,
  callbacks: HandshakeCallbacks,
): void {
  let finished = false;
  const finish = (): void => {
    finished = true;
    clearTimeout(timer);
    ws.off("message", onMessage);
    ws.off("close", onClose);
  };
  const refuse = (code: CloseCode, reason: string, peer: PeerId | undefined): void => {
    finish();
    callbacks.refused(code, reason, peer);
  };
  const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
    if (finished) return;
    const bytes = rawBytes(data);
    if (!isBinary || bytes.length > HANDSHAKE_MAX_BYTES) {
      refuse(CloseCode.protocolError, "handshake message is not a small binary message", undefined);
      return;
    }
    const step = machine.receive(bytes);
    switch (step.kind) {
      case "reply":
        ws.send(step.bytes, { binary: true });
        return;
      case "refused":
        refuse(step.code, step.reason, step.peer);
        return;
      case "authenticated":
        finish();
        if (step.reply !== undefined) ws.send(step.reply, { binary: true });
        callbacks.authenticated(step.peer);
        return;
    }
  };
  const onClose = (): void => finish();
  const timer = setTimeout(() => refuse(CloseCode.handshakeTimeout, `no authentication within ${timeoutMs} ms`, undefined), timeoutMs);
  ws.on("message", onMessage);
  ws.on("close", onClose);
}
