// The per-peer queue of encoded envelopes waiting for the next flush. Bounded in messages
// and bytes: when full, new messages are refused (the caller counts the drop) rather than
// letting memory grow. Raft and Paxos retransmit, so a drop costs latency, never safety.

import { buildFrame, FRAME_HEADER_MAX_BYTES } from "./codec.js";
import type { SendOutcome } from "./types.js";

export interface SendQueueLimits {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxFrameBytes: number;
  readonly maxEnvelopesPerFrame: number;
}

export interface TakenFrame {
  readonly frame: Uint8Array;
  readonly messages: number;
}

export class SendQueue {
  private envelopes: Uint8Array[] = [];
  private queuedBytes = 0;

  constructor(private readonly limits: SendQueueLimits) {
    if (limits.maxFrameBytes <= FRAME_HEADER_MAX_BYTES) throw new Error(`maxFrameBytes ${limits.maxFrameBytes} leaves no room for envelopes`);
  }

  get messages(): number {
    return this.envelopes.length;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  push(envelope: Uint8Array): Extract<SendOutcome, "queued" | "droppedQueueFull" | "droppedTooLarge"> {
    if (envelope.length > this.limits.maxFrameBytes - FRAME_HEADER_MAX_BYTES) return "droppedTooLarge";
    if (this.envelopes.length >= this.limits.maxQueuedMessages || this.queuedBytes + envelope.length > this.limits.maxQueuedBytes) {
      return "droppedQueueFull";
    }
    this.envelopes.push(envelope);
    this.queuedBytes += envelope.length;
    return "queued";
  }

  /** Removes the oldest envelopes that fit in one frame and frames them; undefined when empty. */
  takeFrame(): TakenFrame | undefined {
    if (this.envelopes.length === 0) return undefined;
    const budget = this.limits.maxFrameBytes - FRAME_HEADER_MAX_BYTES;
    let count = 0;
    let size = 0;
    while (count < this.envelopes.length && count < this.limits.maxEnvelopesPerFrame) {
      const next = this.envelopes[count]!.length;
      if (size + next > budget) break;
      size += next;
      count += 1;
    }
    // push() refuses envelopes larger than the budget, so the first one always fits.
    if (count === 0) throw new Error(`queued envelope of ${this.envelopes[0]!.length} bytes exceeds frame budget ${budget}`);
    const taken = this.envelopes.splice(0, count);
    this.queuedBytes -= size;
    const frame = buildFrame(taken);
    if (frame.length > this.limits.maxFrameBytes) throw new Error(`built frame of ${frame.length} bytes above maxFrameBytes ${this.limits.maxFrameBytes}`);
    return { frame, messages: count };
  }

  /** Drops everything queued; returns how many messages were dropped. */
  clear(): number {
    const dropped = this.envelopes.length;
    this.envelopes = [];
    this.queuedBytes = 0;
    return dropped;
  }
}
