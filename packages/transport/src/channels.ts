// The channel registry shared by both transports: names, validators, handlers, and the
// receive path that turns a frame into deliveries. A frame is delivered all or nothing:
// every envelope is decoded and validated first, so a bad envelope at the end of a frame
// cannot leave the application having seen half of it.

import { decodeFrame, type FrameDecodeLimits } from "./codec.js";
import type { ChannelValidator, MessageHandler, PeerId, ValidationResult } from "./types.js";

/** Application channel names; names starting with anything else are reserved. */
const CHANNEL_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,31}$/;
const MAX_CHANNELS = 64;

interface Channel {
  readonly validate: ChannelValidator<unknown>;
  readonly onMessage: MessageHandler<unknown>;
}

/** The messages of one accepted frame, ready to hand to their handlers. */
export interface AcceptedFrame {
  readonly deliveries: readonly { readonly channel: Channel; readonly message: unknown }[];
}

export type FrameVerdict =
  | { readonly ok: true; readonly frame: AcceptedFrame }
  | { readonly ok: false; readonly reason: string };

export class ChannelRegistry {
  private readonly channels = new Map<string, Channel>();

  register<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void {
    if (!CHANNEL_NAME_PATTERN.test(name)) throw new Error(`invalid channel name ${JSON.stringify(name)}`);
    if (this.channels.has(name)) throw new Error(`channel ${name} is already registered`);
    if (this.channels.size >= MAX_CHANNELS) throw new Error(`more than ${MAX_CHANNELS} channels`);
    // The stored pair keeps T consistent: validate's output is exactly what onMessage takes.
    this.channels.set(name, {
      validate,
      onMessage: (from, message) => onMessage(from, message as T),
    });
  }

  /** Throws for an unregistered channel: sending on one is a programming error. */
  assertRegistered(name: string): void {
    if (!this.channels.has(name)) {
      throw new Error(`send on unregistered channel ${JSON.stringify(name)} (registered: ${[...this.channels.keys()].join(", ")})`);
    }
  }

  /** Decodes and validates a whole frame from an authenticated peer. Never throws. */
  accept(bytes: Uint8Array, from: PeerId, limits: FrameDecodeLimits): FrameVerdict {
    const decoded = decodeFrame(bytes, limits);
    if (!decoded.ok) return decoded;
    const deliveries: { channel: Channel; message: unknown }[] = [];
    for (let i = 0; i < decoded.envelopes.length; i++) {
      const [name, payload] = decoded.envelopes[i]!;
      const channel = this.channels.get(name);
      if (channel === undefined) return { ok: false, reason: `envelope ${i}: unknown channel ${JSON.stringify(name.slice(0, 40))}` };
      const result = validateSafely(channel, payload, from);
      if (!result.ok) {
        const { code, path, detail } = result.error;
        return { ok: false, reason: `envelope ${i} on ${name}: ${code} at ${path}: ${detail}` };
      }
      deliveries.push({ channel, message: result.value });
    }
    return { ok: true, frame: { deliveries } };
  }

  /** Hands an accepted frame's messages to their handlers, in frame order. */
  static deliver(frame: AcceptedFrame, from: PeerId): void {
    for (const { channel, message } of frame.deliveries) channel.onMessage(from, message);
  }
}

/**
 * A validator that throws on strange input is a bug, but the input came from the network:
 * it must cost the link, not the process. The exception becomes a refusal.
 */
function validateSafely(channel: Channel, payload: unknown, from: PeerId): ValidationResult<unknown> {
  try {
    return channel.validate(payload, from);
  } catch (error) {
    const detail = `validator threw: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, error: { code: "wrongType", path: "", detail } };
  }
}
