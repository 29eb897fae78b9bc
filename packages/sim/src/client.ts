// The simulated clients. They propose unique commands to whichever node currently leads,
// remember what each proposal was assigned (node, index, term), and count it acknowledged
// once the node they proposed to applies exactly that entry, as a server would answer its
// client. Like real clients they have a bounded number of requests outstanding and give up
// on a request after a timeout; without that, a leader that replicates slowly would be
// handed an ever longer backlog. Now and then they start a ReadIndex read, whose answer the
// checker validates.

import type { Entry, Index, NodeId, ProposeResult, Term } from "@geolock/raft";
import { encodeSet } from "./kv-app.js";

interface PendingProposal {
  readonly atUs: number;
  readonly node: NodeId;
  readonly index: Index;
  readonly term: Term;
  readonly seq: number;
}

export interface Acknowledged {
  readonly seq: number;
  readonly index: Index;
  readonly term: Term;
}

const decoder = new TextDecoder();

export class SimClient {
  private nextSeq = 1;
  /** Keyed by the command text, which is unique per proposal. */
  private readonly pending = new Map<string, PendingProposal>();
  private readonly acked: Acknowledged[] = [];
  private refused = 0;
  private timedOut = 0;
  /** Proposals numbered from here on are "fresh" (made after the faults stopped). */
  private freshFromSeq = Number.MAX_SAFE_INTEGER;
  private freshAcked = 0;

  constructor(
    private readonly outstandingMax: number,
    private readonly timeoutUs: number,
  ) {}

  /** How many proposals may be made now: the free slots once timed-out requests are dropped. */
  capacity(nowUs: number): number {
    // The map is in proposal order, so the timed-out requests are at its front.
    for (const [key, proposal] of this.pending) {
      if (nowUs - proposal.atUs < this.timeoutUs) break;
      this.pending.delete(key);
      this.timedOut += 1;
    }
    return Math.max(0, this.outstandingMax - this.pending.size);
  }

  /** The next unique command. */
  nextCommand(): { seq: number; data: Uint8Array } {
    const seq = this.nextSeq++;
    return { seq, data: encodeSet(`k${seq % 16}`, `v${seq}`) };
  }

  /** What the node answered to the proposal of `data`. */
  proposed(nowUs: number, node: NodeId, seq: number, data: Uint8Array, result: ProposeResult): void {
    if (!result.ok) {
      this.refused += 1;
      return;
    }
    if (this.pending.size >= this.outstandingMax) {
      throw new Error(`SimClient: proposal #${seq} beyond ${this.outstandingMax} outstanding`);
    }
    this.pending.set(decoder.decode(data), { atUs: nowUs, node, index: result.index, term: result.term, seq });
  }

  /** A node applied `entry`: if it is a proposal made there, that proposal is acknowledged. */
  applied(node: NodeId, entry: Entry): Acknowledged | undefined {
    if (entry.kind !== "normal" || entry.data.length === 0) return undefined;
    const key = decoder.decode(entry.data);
    const proposal = this.pending.get(key);
    if (proposal === undefined || proposal.node !== node) return undefined;
    this.pending.delete(key);
    if (proposal.index !== entry.index || proposal.term !== entry.term) {
      throw new Error(`SimClient: proposal ${key} was assigned ${proposal.index}@${proposal.term} but applied at ${entry.index}@${entry.term}`);
    }
    const ack: Acknowledged = { seq: proposal.seq, index: entry.index, term: entry.term };
    this.acked.push(ack);
    if (ack.seq >= this.freshFromSeq) this.freshAcked += 1;
    return ack;
  }

  /** From now on, count acknowledgements of new proposals separately. */
  markFresh(): void {
    this.freshFromSeq = this.nextSeq;
    this.freshAcked = 0;
  }

  freshAcknowledged(): number {
    return this.freshAcked;
  }

  acknowledged(): readonly Acknowledged[] {
    return this.acked;
  }

  counters(): { proposed: number; acknowledged: number; refused: number; timedOut: number } {
    return { proposed: this.nextSeq - 1, acknowledged: this.acked.length, refused: this.refused, timedOut: this.timedOut };
  }
}
