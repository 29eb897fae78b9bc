// One RawNode driven by hand: the test steps messages into it and reads what it sends.
// The driver part persists each Ready into the node's MemoryStorage before returning it.

import { MemoryStorage, RawNode, SeededRng, asIndex, asNodeId, asTerm } from "../../src/index.js";
import type { Entry, Message, RaftConfig, Ready } from "../../src/index.js";
import { ELECTION_TICKS } from "./network.js";

export interface LoneNode {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  /** Persists and advances every pending Ready; returns them. */
  drain(): Ready[];
  /** drain(), then the messages of those Readies. */
  messages(): Message[];
}

export function loneNode(
  id: number,
  voters: readonly number[],
  options: { log?: readonly number[]; term?: number; seed?: number; config?: Partial<RaftConfig> } = {},
): LoneNode {
  const storage = new MemoryStorage({ voters: voters.map(asNodeId), learners: [] });
  const log = options.log ?? [];
  storage.append(log.map((t, i): Entry => ({ index: asIndex(i + 1), term: asTerm(t), kind: "normal", data: new Uint8Array(0) })));
  const term = options.term ?? log[log.length - 1] ?? 0;
  storage.setHardState({ term: asTerm(term), vote: asNodeId(0), commit: asIndex(0) });
  const node = new RawNode({
    id: asNodeId(id),
    storage,
    rng: new SeededRng(options.seed ?? 7),
    electionTicks: ELECTION_TICKS,
    heartbeatTicks: 1,
    ...options.config,
  });
  const drain = (): Ready[] => {
    const out: Ready[] = [];
    for (let i = 0; i < 100 && node.hasReady(); i++) {
      const rd = node.ready();
      if (rd.snapshot !== undefined) storage.applySnapshot(rd.snapshot);
      storage.append(rd.entries);
      if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
      node.advance();
      out.push(rd);
    }
    return out;
  };
  return { node, storage, drain, messages: () => drain().flatMap((rd) => rd.messages) };
}
