// The lock checks, after every applied entry on every replica:
//
//  - agreement: every replica computes the same answer and events at an index (the first
//    replica to apply an index fixes them, and the history model checks them once);
//  - the history model (lock-model.ts): mutual exclusion, fencing, session liveness under
//    the leader's clock, consistent releases, timeouts and FIFO grants;
//  - the replica's own state, read through the machine's public reads only:
//    assertInvariants(); never two exclusive holders nor exclusive with shared (status);
//    every grant still standing after the entry belongs to a session that is open with
//    time left and holds exactly that token (sessionInfo); and the replica's grants of a
//    name, in its apply order, have ever larger tokens, including across its restarts and
//    snapshot installs (a replica restored at index k has seen the history up to k).

import { InvariantError, validateCommand } from "@geolock/locks";
import type { ApplyResult, LockCommand } from "@geolock/locks";
import type { Entry, NodeId } from "@geolock/raft";
import { LockApp } from "./lock-app.js";
import type { LockOutcome, LockStateView } from "./lock-app.js";
import { LockHistoryModel } from "./lock-model.js";
import type { NewGrant } from "./lock-model.js";
import type { SimNode } from "./sim-node.js";
import { violated } from "./violation.js";

export class LockChecker {
  readonly model = new LockHistoryModel();
  /** index -> the answer and events of the first replica that applied it ("-": not a lock command). */
  private readonly outcomes = new Map<number, string>();
  private modelIndex = 0;
  /** The grants each index made, as the model classified them. */
  private readonly grantsAt = new Map<number, readonly NewGrant[]>();
  /** name -> (index, token) of every grant, in index order. */
  private readonly grantsByName = new Map<string, { readonly index: number; readonly token: number }[]>();
  /** Per replica: name -> the largest token it has granted. */
  private readonly replicaTokens = new Map<NodeId, Map<string, number>>();

  /** @param names the lock names the workload uses; their status is checked after every apply. */
  constructor(private readonly names: readonly string[]) {}

  /**
   * Checks the replica's apply of `entry`. Returns the command and its result when this is
   * the first replica to apply that lock entry (the committed history, once).
   */
  applied(node: SimNode, entry: Entry): { readonly command: LockCommand; readonly result: ApplyResult } | undefined {
    const app = lockAppOf(node);
    const outcome = app.lastOutcome();
    if (outcome !== undefined && outcome.index !== entry.index) throw new Error(`LockChecker: node ${node.id} outcome ${outcome.index} for entry ${entry.index}`);
    const digest = outcome === undefined ? "-" : JSON.stringify(outcome.result);
    const first = this.outcomes.get(entry.index);
    let fresh: { readonly command: LockCommand; readonly result: ApplyResult } | undefined;
    if (first === undefined) {
      this.outcomes.set(entry.index, digest);
      fresh = this.advanceModel(entry.index, outcome);
    } else if (first !== digest) {
      violated("lockReplicaAgreement", `node ${node.id} applies ${entry.index}@${entry.term} with ${digest} where another replica got ${first}`);
    }
    if (outcome !== undefined) this.checkReplica(node.id, app.state, outcome);
    return fresh;
  }

  /** A replica (re)started from its disk: its history is the committed one up to its snapshot. */
  started(node: SimNode): void {
    this.replicaTokens.set(node.id, this.tokensUpTo(node.applied));
  }

  snapshotRestored(node: SimNode, index: number): void {
    this.replicaTokens.set(node.id, this.tokensUpTo(index));
  }

  private advanceModel(index: number, outcome: LockOutcome | undefined): { command: LockCommand; result: ApplyResult } | undefined {
    // The first replica to reach an index has applied every index before it, so the
    // history arrives without gaps.
    if (index !== this.modelIndex + 1) throw new Error(`LockChecker: history jumps from ${this.modelIndex} to ${index}`);
    this.modelIndex = index;
    if (outcome === undefined) return undefined;
    const command = commandOf(outcome);
    const grants = this.model.apply(index, outcome.term, command, outcome.result);
    if (grants.length > 0) this.grantsAt.set(index, grants);
    for (const g of grants) {
      const list = this.grantsByName.get(g.name) ?? [];
      list.push({ index, token: g.token });
      this.grantsByName.set(g.name, list);
    }
    return { command, result: outcome.result };
  }

  private checkReplica(node: NodeId, state: LockStateView, outcome: LockOutcome): void {
    const where = `node ${node} after ${outcome.index}@${outcome.term}`;
    try {
      state.assertInvariants();
    } catch (error) {
      if (error instanceof InvariantError) violated("lockInvariants", `${where}: ${error.message}`);
      throw error;
    }
    for (const name of namesIn(this.names, outcome)) checkExclusion(state, name, where);
    const grants = this.grantsAt.get(outcome.index) ?? [];
    const tokens = this.replicaTokens.get(node) ?? new Map<string, number>();
    for (const g of grants) {
      const last = tokens.get(g.name) ?? 0;
      if (g.token <= last) violated("lockFencing", `${where}: grants ${g.name} #${g.token} after granting #${last} on this replica`);
      tokens.set(g.name, g.token);
      if (!releasedLater(outcome.result, g)) checkGrantStands(state, g, where);
    }
    this.replicaTokens.set(node, tokens);
  }

  private tokensUpTo(index: number): Map<string, number> {
    const tokens = new Map<string, number>();
    for (const [name, list] of this.grantsByName) {
      // Tokens of a name increase with the index (the model checks it), so the last one wins.
      let last: number | undefined;
      for (const g of list) if (g.index <= index) last = g.token;
      if (last !== undefined) tokens.set(name, last);
    }
    return tokens;
  }
}

export function lockAppOf(node: SimNode): LockApp {
  const app = node.application;
  if (!(app instanceof LockApp)) throw new Error(`LockChecker: node ${node.id} does not run a LockApp`);
  return app;
}

/** The sim proposes only valid commands; anything else in the log is the sim's own bug. */
function commandOf(outcome: LockOutcome): LockCommand {
  const parsed = validateCommand(outcome.command);
  if (!parsed.ok) throw new Error(`LockChecker: entry ${outcome.index} is not a valid lock command: ${parsed.error.message}`);
  return parsed.command;
}

/** The workload's names plus any the entry mentions. */
function namesIn(names: readonly string[], outcome: LockOutcome): Set<string> {
  const out = new Set(names);
  const { answer, events } = outcome.result;
  if ("name" in answer) out.add(answer.name);
  for (const event of events) if ("name" in event) out.add(event.name);
  return out;
}

function checkExclusion(state: LockStateView, name: string, where: string): void {
  const holders = state.status(name).holders;
  const exclusive = holders.filter((h) => h.mode === "exclusive").length;
  if (exclusive > 1 || (exclusive === 1 && holders.length > 1)) {
    const list = holders.map((h) => `${h.mode}@${h.sessionId}#${h.token}`).join(",");
    violated("lockMutualExclusion", `${where}: ${name} is held by ${list}`);
  }
}

/** A grant that the same entry also ended (the session closed or expired right after). */
function releasedLater(result: ApplyResult, g: NewGrant): boolean {
  return result.events.some((e) => e.type === "released" && e.name === g.name && e.token === g.token && e.sessionId === g.sessionId);
}

function checkGrantStands(state: LockStateView, g: NewGrant, where: string): void {
  const info = state.sessionInfo(g.sessionId);
  if (info === undefined || info.remainingMs <= 0) {
    const why = info === undefined ? "is not open" : `has ${info.remainingMs} ms left`;
    violated("lockSessionLiveness", `${where}: session ${g.sessionId} was granted ${g.name} #${g.token} but ${why}`);
  }
  if (!info.held.some((h) => h.name === g.name && h.token === g.token && h.mode === g.mode)) {
    const held = info.held.map((h) => `${h.name}#${h.token}`).join(",");
    violated("lockReplicaAgreement", `${where}: reports granting ${g.name} ${g.mode} #${g.token} to session ${g.sessionId}, whose state holds [${held}]`);
  }
}
