// The state transitions of a node's log, written once and applied twice: first to the
// staged view before anything is written (so a bad update is refused before it reaches the
// disk), then to the public view after the write is durable. Each transition checks the
// invariants Raft promises about its input, so a broken caller is caught on both sides.

import type { MemoryStorage } from "@geolock/raft";
import type { Entry, HardState, Index, Snapshot } from "@geolock/raft";
import { entryProblem, hardStateProblem, snapshotMetadataProblem } from "./checks.js";

/** One persist call: what a Raft Ready asks to make durable. */
export interface LogUpdate {
  readonly hardState?: HardState | undefined;
  /** Entries to append; entries[0] may replace a conflicting suffix. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to install before the entries. */
  readonly snapshot?: Snapshot | undefined;
}

function refuse(what: string, problem: string): never {
  throw new Error(`storage: refusing ${what}: ${problem}`);
}

/** Installs the snapshot, appends the entries, then sets the hard state: etcd's order. */
export function applyUpdate(storage: MemoryStorage, update: LogUpdate): void {
  const commitBefore = storage.hardState().commit;
  if (update.snapshot !== undefined) {
    const problem = snapshotMetadataProblem(update.snapshot.metadata);
    if (problem !== null) refuse("snapshot", problem);
    storage.applySnapshot(update.snapshot);
  }
  if (update.entries.length > 0) {
    update.entries.forEach((entry, position) => {
      const problem = entryProblem(entry);
      if (problem !== null) refuse(`entry at position ${position}`, problem);
    });
    assertKeepsCommitted(storage, update.entries, commitBefore);
    storage.append(update.entries);
  }
  if (update.hardState !== undefined) {
    const problem = hardStateProblem(update.hardState);
    if (problem !== null) refuse("hard state", problem);
    if (update.hardState.commit < commitBefore) refuse("hard state", `commit would go back from ${commitBefore} to ${update.hardState.commit}`);
    storage.setHardState(update.hardState);
  }
  assertLogInvariants(storage);
}

/**
 * Raft never replaces a committed entry. An entry at or below the commit index may be
 * appended again only if it is the same entry (same index and term, by Log Matching).
 */
function assertKeepsCommitted(storage: MemoryStorage, entries: readonly Entry[], commit: Index): void {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  for (const entry of entries) {
    if (entry.index > commit) return;
    if (entry.index < first || entry.index > last) continue;
    const term = storage.term(entry.index);
    if (term !== entry.term) {
      refuse("entries", `entry ${entry.index} is committed (commit ${commit}) with term ${term}, the update brings term ${entry.term}`);
    }
  }
}

/** Records an application snapshot covering the log up to its index (which must be committed). */
export function applySaveSnapshot(storage: MemoryStorage, snapshot: Snapshot): void {
  const { index, term, confState } = snapshot.metadata;
  const problem = snapshotMetadataProblem(snapshot.metadata);
  if (problem !== null) refuse("snapshot", problem);
  const commit = storage.hardState().commit;
  if (index > commit) refuse("snapshot", `index ${index} is beyond the commit index ${commit}`);
  if (index <= storage.snapshot().metadata.index) refuse("snapshot", `index ${index} is not newer than ${storage.snapshot().metadata.index}`);
  const logTerm = storage.term(index);
  if (logTerm !== term) refuse("snapshot", `term ${term} at index ${index}, but the log has term ${logTerm} there`);
  storage.createSnapshot(index, confState, snapshot.data);
  assertLogInvariants(storage);
}

/**
 * Discards the entries up to `index - keepTail`. `index` must be covered by the snapshot;
 * the tail lets followers that lag a little catch up from the log instead of a snapshot.
 */
export function applyCompact(storage: MemoryStorage, index: Index, keepTail: number): void {
  if (!Number.isSafeInteger(keepTail) || keepTail < 0) refuse("compaction", `keepTail ${keepTail} is not an integer >= 0`);
  const snapshotIndex = storage.snapshot().metadata.index;
  if (!Number.isSafeInteger(index) || index > snapshotIndex) refuse("compaction", `index ${index} is beyond the snapshot index ${snapshotIndex}`);
  const target = index - keepTail;
  if (target < storage.firstIndex()) return;
  storage.compact(target as Index);
  assertLogInvariants(storage);
}

/** The invariants every durable state keeps; recovery checks the same on what it reads. */
export function logInvariantProblem(storage: MemoryStorage): string | null {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const { index: snapshotIndex, term: snapshotTerm } = storage.snapshot().metadata;
  const hard = storage.hardState();
  if (snapshotIndex < first - 1) return `snapshot index ${snapshotIndex} is below the log start ${first - 1}`;
  if (snapshotIndex > last) return `snapshot index ${snapshotIndex} is beyond the last index ${last}`;
  if (storage.term(snapshotIndex) !== snapshotTerm) return `snapshot term ${snapshotTerm} differs from the log's term at ${snapshotIndex}`;
  if (hard.commit > last) return `commit ${hard.commit} is beyond the last index ${last}`;
  if (hard.commit < snapshotIndex) return `commit ${hard.commit} is below the snapshot index ${snapshotIndex}`;
  const lastTerm = storage.term(last);
  if (hard.term < lastTerm) return `term ${hard.term} is below the last entry's term ${lastTerm}`;
  return null;
}

export function assertLogInvariants(storage: MemoryStorage): void {
  const problem = logInvariantProblem(storage);
  if (problem !== null) {
    throw new Error(`storage: log invariant broken: ${problem} (first ${storage.firstIndex()}, last ${storage.lastIndex()})`);
  }
}
