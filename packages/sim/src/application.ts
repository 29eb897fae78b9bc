// The replicated application a simulated node runs on top of Raft. It is pluggable so that
// the lock state machine (packages/locks) and the Paxos acceptor can later run inside the
// simulator unchanged: all it must be is deterministic (same entries, same bytes).

import type { Entry } from "@geolock/raft";

export interface Application {
  /** Applies one committed entry (normal or confChange; an empty normal entry is a no-op). */
  apply(entry: Entry): void;
  /** The full state as bytes; equal states must give equal bytes. */
  snapshot(): Uint8Array;
  /** Replaces the state with one taken by snapshot(), on this node or another. */
  restore(bytes: Uint8Array): void;
}

export type ApplicationFactory = () => Application;
