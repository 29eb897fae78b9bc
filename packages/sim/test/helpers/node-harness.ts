// A lone SimNode wired to recording stand-ins for the simulation: what it sends and which
// fsyncs it schedules are collected instead of going through a network and an event queue.

import { SeededRng, asIndex, asNodeId, asTerm } from "@geolock/raft";
import type { Entry, Message, NodeId } from "@geolock/raft";
import { KvApp, SafetyChecker, SimDisk, SimNode } from "../../src/index.js";
import type { NodeObserver } from "../../src/index.js";

export const VOTERS: readonly NodeId[] = [1, 2, 3].map(asNodeId);

export interface Harness {
  readonly node: SimNode;
  readonly sent: Message[];
  readonly fsyncs: { life: number; delayUs: number }[];
}

export function harness(
  id: number,
  observer: NodeObserver = new SafetyChecker({ entriesMax: 1000, pendingReadsMax: 10 }),
  earlyReplication = false,
): Harness {
  const sent: Message[] = [];
  const fsyncs: { life: number; delayUs: number }[] = [];
  const node = new SimNode(
    { id: asNodeId(id), raft: { electionTicks: 10, heartbeatTicks: 1 }, snapshotEveryEntries: 100, snapshotKeepTailEntries: 10, inboxMessagesMax: 16, readiesPerTurnMax: 100, earlyReplication, applyDuringWrite: false },
    {
      env: { scheduleDiskDone: (_node, life, delayUs) => fsyncs.push({ life, delayUs }), send: (m) => sent.push(m) },
      observer,
      disk: new SimDisk({ voters: VOTERS, learners: [] }, { fsyncMsMin: 1, fsyncMsMax: 2, slowFsyncProbability: 0, slowFsyncMsMax: 2 }, new SeededRng(id)),
      rng: new SeededRng(100 + id),
      createApp: () => new KvApp(),
    },
  );
  return { node, sent, fsyncs };
}

export function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index: asIndex(index), term: asTerm(term), kind: "normal", data: new TextEncoder().encode(text) };
}
