// What the proposer may read of its region's replicated global state. The driver passes the
// leader's GlobalReplica; reading applied (committed) state is enough, because the proposer
// only uses it as a hint of where to start: every fact it acts on is re-checked by a
// majority of acceptors.

import type { Ballot } from "./ballot.js";
import type { GlobalKey, Instance } from "./types.js";

export interface ReplicaView {
  /** Instances 1..n of key are chosen and applied by this region (0 if none). */
  appliedInstance(key: GlobalKey): Instance;
  /** The ballot this region's acceptor promised for key (ZERO_BALLOT if none). */
  promised(key: GlobalKey): Ballot;
  /** Up to `limit` keys of the table greater than `after`, in ascending order, with their applied instance. */
  keysAfter(after: string, limit: number): readonly { readonly key: GlobalKey; readonly applied: Instance }[];
}
