// Pending ReadIndex requests on the leader (the Raft thesis, section 6.4). Each request
// remembers the commit index when it arrived; it becomes safe once a quorum has answered a
// heartbeat that carried its context, because that proves no other leader had been elected
// when the heartbeat went out, i.e. after the request arrived.

import type { Index, NodeId } from "./types.js";

export interface ReadRequest {
  /** The leader's commit index when the request arrived. */
  readonly index: Index;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  readonly from: NodeId;
  readonly context: Uint8Array;
  /** Voters that acknowledged a heartbeat carrying this context. */
  readonly acks: Set<NodeId>;
}

export type AddReadResult = "added" | "duplicate" | "full";

export class ReadOnly {
  /** Invariant: queue holds exactly the keys of `pending`, in arrival order; size <= maxPending. */
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  constructor(readonly maxPending: number) {}

  get size(): number {
    return this.queue.length;
  }

  add(index: Index, from: NodeId, context: Uint8Array): AddReadResult {
    const key = contextKey(context);
    if (this.pending.has(key)) return "duplicate";
    if (this.queue.length >= this.maxPending) return "full";
    this.pending.set(key, { index, from, context, acks: new Set() });
    this.queue.push(key);
    return "added";
  }

  /** Records that `from` answered the heartbeat carrying `context`; the request if still pending. */
  recvAck(from: NodeId, context: Uint8Array): ReadRequest | undefined {
    const request = this.pending.get(contextKey(context));
    request?.acks.add(from);
    return request;
  }

  /**
   * Removes and returns every request up to and including the one with `context`. The
   * earlier ones are safe too: they arrived before this one's heartbeat was sent.
   */
  advance(context: Uint8Array): ReadRequest[] {
    const at = this.queue.indexOf(contextKey(context));
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1).map((key) => this.pending.get(key) as ReadRequest);
    for (const key of this.queue.slice(0, at + 1)) this.pending.delete(key);
    this.queue = this.queue.slice(at + 1);
    return done;
  }

  /** The context of the most recent request, which confirms all the others when acknowledged. */
  lastContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.context;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

/** A map key for a context: one UTF-16 code unit per byte, so distinct contexts never collide. */
export function contextKey(context: Uint8Array): string {
  let key = "";
  for (const byte of context) key += String.fromCharCode(byte);
  return key;
}
