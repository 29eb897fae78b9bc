// Deliberately broken variants of the Raft core and of the driver, defined only here, to
// prove that the simulator's checks can fail: each must be caught within the test budget.

import { Raft } from "@geolock/raft";
import type { Index, RaftConfig, Ready, Term } from "@geolock/raft";
import { SimNode } from "../../src/index.js";
import type { SimNodeConfig, SimNodeDeps } from "../../src/index.js";

/**
 * Figure 8 of the Raft paper: a leader that counts replicas of an entry from an earlier
 * term towards commitment. A later leader can then overwrite that "committed" entry.
 */
export class CommitsEarlierTermsRaft extends Raft {
  protected override maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed) return false;
    this.log.commitTo(index);
    return true;
  }
}

/** A voter that grants its vote without comparing logs: a stale node can win and truncate commits. */
export class VotesForAnyLogRaft extends Raft {
  protected override isLogUpToDate(_lastIndex: Index, _lastTerm: Term): boolean {
    return true;
  }
}

/**
 * A driver that sends a Ready's messages before its hard state and entries are durable. A
 * vote (or an append acknowledgement) escapes, the node crashes before its fsync, and after
 * the restart it no longer remembers the promise.
 */
export class SendsBeforePersistingNode extends SimNode {
  protected override handleReady(ready: Ready): void {
    this.sendAll(ready.messages);
    super.handleReady({ ...ready, messages: [] });
  }
}

export const commitsEarlierTerms = (config: RaftConfig): Raft => new CommitsEarlierTermsRaft(config);
export const votesForAnyLog = (config: RaftConfig): Raft => new VotesForAnyLogRaft(config);
export const sendsBeforePersisting = (config: SimNodeConfig, deps: SimNodeDeps): SimNode => new SendsBeforePersistingNode(config, deps);
