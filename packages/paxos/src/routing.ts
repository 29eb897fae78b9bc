// What a region's driver does with each inbound message. Acceptor and learner inputs become
// commands in the region's own Raft log (applied on every replica; a reply goes out only
// once applied); proposer replies go to the leader's Proposer; catch-up requests are answered
// from the applied state.

import type { ReplicaCommand } from "./commands.js";
import type { PaxosMessage } from "./messages.js";
import type { ReplicaView } from "./replica-view.js";

export interface InboundAction {
  /** Append these to the region's Raft log (in this order). */
  readonly log: readonly ReplicaCommand[];
  /** Step the region leader's Proposer with the message. */
  readonly toProposer: boolean;
  /** Reply with replica.answerCatchUp(message). */
  readonly answerCatchUp: boolean;
}

export function routeInbound(m: PaxosMessage, view: ReplicaView): InboundAction {
  const none = { log: [], toProposer: false, answerCatchUp: false };
  switch (m.kind) {
    case "prepare":
      return { ...none, log: [{ type: "prepare", from: m.from, key: m.key, ballot: m.ballot, fromInstance: m.fromInstance }] };
    case "accept":
      return { ...none, log: [{ type: "accept", from: m.from, key: m.key, ballot: m.ballot, instance: m.instance, value: m.value }] };
    case "chosen":
      // Already applied: no need to spend a log entry.
      if (m.instance <= view.appliedInstance(m.key)) return none;
      return { ...none, log: [{ type: "learn", key: m.key, instance: m.instance, value: m.value }] };
    case "catchUpRequest":
      return { ...none, answerCatchUp: true };
    case "catchUpReply": {
      const newer = m.states.filter((s) => s.state.applied > view.appliedInstance(s.key));
      return { ...none, toProposer: true, log: newer.map((s) => ({ type: "installKey", key: s.key, state: s.state })) };
    }
    case "promise":
    case "accepted":
    case "nack":
    case "refused":
      return { ...none, toProposer: true };
  }
}
