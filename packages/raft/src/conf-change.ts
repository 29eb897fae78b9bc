// Membership changes: the fixed binary form carried by confChange entries, and how one
// change transforms a membership. Every node applies the same change to the same
// membership at the same log position, so the outcome must depend on nothing else.

import { asNodeId } from "./types.js";
import type { ConfChange, ConfState, NodeId } from "./types.js";

/** Format version byte, so a future format can be told apart from this one. */
const CONF_CHANGE_VERSION = 1;
/** version (1 byte), type (1 byte), node id (4 bytes, big-endian). */
export const CONF_CHANGE_BYTES = 6;
const TYPES: readonly ConfChange["type"][] = ["addVoter", "addLearner", "removeNode"];
const MAX_NODE_ID = 0xffff_ffff;

export function encodeConfChange(change: ConfChange): Uint8Array {
  assertNodeId(change.nodeId);
  const code = TYPES.indexOf(change.type);
  if (code < 0) throw new Error(`encodeConfChange: unknown type ${String(change.type)}`);
  const out = new Uint8Array(CONF_CHANGE_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, CONF_CHANGE_VERSION);
  view.setUint8(1, code);
  view.setUint32(2, change.nodeId, false);
  const back = decodeConfChange(out);
  if (back.type !== change.type || back.nodeId !== change.nodeId) {
    throw new Error(`encodeConfChange: round trip changed ${JSON.stringify(change)} into ${JSON.stringify(back)}`);
  }
  return out;
}

/** Decodes and validates; throws on anything that encodeConfChange could not have produced. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  if (bytes.byteLength !== CONF_CHANGE_BYTES) {
    throw new Error(`decodeConfChange: expected ${CONF_CHANGE_BYTES} bytes, got ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== CONF_CHANGE_VERSION) throw new Error(`decodeConfChange: unknown version ${version}`);
  const type = TYPES[view.getUint8(1)];
  if (type === undefined) throw new Error(`decodeConfChange: unknown type code ${view.getUint8(1)}`);
  const nodeId = asNodeId(view.getUint32(2, false));
  assertNodeId(nodeId);
  return { type, nodeId };
}

function assertNodeId(id: NodeId): void {
  if (!Number.isInteger(id) || id <= 0 || id > MAX_NODE_ID) {
    throw new Error(`conf change: node id must be an integer in [1, ${MAX_NODE_ID}], got ${id}`);
  }
}

/**
 * The membership after `change`, or undefined when the change does not apply to `conf`
 * (adding an existing voter, demoting a voter to learner, removing a stranger, removing
 * the last voter). Such a change is refused at proposal time and is a no-op when applied.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState | undefined {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  const without = (ids: readonly NodeId[]): NodeId[] => ids.filter((id) => id !== change.nodeId);
  switch (change.type) {
    case "addVoter":
      if (isVoter) return undefined;
      return { voters: sorted([...conf.voters, change.nodeId]), learners: without(conf.learners) };
    case "addLearner":
      if (isVoter || isLearner) return undefined;
      return { voters: [...conf.voters], learners: sorted([...conf.learners, change.nodeId]) };
    case "removeNode":
      if (!isVoter && !isLearner) return undefined;
      if (isVoter && conf.voters.length === 1) return undefined;
      return { voters: without(conf.voters), learners: without(conf.learners) };
  }
}

function sorted(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => a - b);
}

/** Every node named by a membership, voters first. */
export function members(conf: ConfState): NodeId[] {
  return [...conf.voters, ...conf.learners];
}
