// Elections: randomized timeouts, pre-vote, leader leases (check-quorum), vote rules and
// their persistence. Single nodes are stepped by hand; groups run on the test network.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { asIndex, asNodeId, asTerm } from "../src/index.js";
import type { Message } from "../src/index.js";
import { ELECTION_TICKS, Network } from "./helpers/network.js";
import { loneNode } from "./helpers/lone-node.js";

const n = asNodeId;

function voteRequest(from: number, to: number, term: number, lastLogIndex: number, lastLogTerm: number, transfer = false): Message {
  return { type: "vote", from: n(from), to: n(to), term: asTerm(term), lastLogIndex: asIndex(lastLogIndex), lastLogTerm: asTerm(lastLogTerm), transfer };
}

describe("elections", () => {
  it("draws each election timeout from the rng within [electionTicks, 2 * electionTicks) (property)", () => {
    const seen = new Set<number>();
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const lone = loneNode(1, [1, 2, 3], { seed });
        let ticks = 0;
        for (; ticks < 3 * ELECTION_TICKS; ) {
          lone.node.tick();
          ticks++;
          if (lone.messages().some((m) => m.type === "preVote")) break;
        }
        expect(ticks).toBeGreaterThanOrEqual(ELECTION_TICKS);
        expect(ticks).toBeLessThan(2 * ELECTION_TICKS);
        seen.add(ticks);
      }),
      { numRuns: 60 },
    );
    expect(seen.size).toBeGreaterThan(3);
  });

  it("persists a vote in the same Ready as the vote response", () => {
    const lone = loneNode(2, [1, 2, 3]);
    lone.node.step(voteRequest(1, 2, 1, 0, 0));
    const [rd] = lone.drain();
    expect(rd?.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd?.mustSync).toBe(true);
    expect(rd?.messages).toEqual([{ type: "voteResp", from: 2, to: 1, term: 1, reject: false }]);
  });

  it("grants at most one vote per term", () => {
    const lone = loneNode(2, [1, 2, 3]);
    lone.node.step(voteRequest(1, 2, 1, 0, 0));
    lone.node.step(voteRequest(3, 2, 1, 0, 0));
    const replies = lone.messages();
    expect(replies.map((m) => (m.type === "voteResp" ? [m.to, m.reject] : null))).toEqual([
      [1, false],
      [3, true],
    ]);
  });

  it("refuses a vote to a candidate whose log is less up to date", () => {
    const lone = loneNode(2, [1, 2, 3], { log: [1, 1, 2] });
    lone.node.step(voteRequest(1, 2, 3, 5, 1)); // longer, but an older last term
    lone.node.step(voteRequest(3, 2, 3, 2, 2)); // same last term, shorter
    expect(lone.messages().map((m) => (m.type === "voteResp" ? m.reject : null))).toEqual([true, true]);
    lone.node.step(voteRequest(3, 2, 4, 3, 2)); // as up to date
    expect(lone.messages().map((m) => (m.type === "voteResp" ? m.reject : null))).toEqual([false]);
  });

  it("a node that cannot win never bumps its term (pre-vote)", () => {
    const lone = loneNode(1, [1, 2, 3], { term: 5 });
    const sent: Message[] = [];
    for (let i = 0; i < 10 * ELECTION_TICKS; i++) {
      lone.node.tick();
      sent.push(...lone.messages());
    }
    expect(lone.node.status().term).toBe(5);
    expect(lone.node.status().role).toBe("preCandidate");
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((m) => m.type === "preVote" && m.term === 6)).toBe(true);
  });

  it("a pre-candidate that hears a leader of its term reverts to follower", () => {
    const lone = loneNode(1, [1, 2, 3], { term: 5 });
    for (let i = 0; i < 2 * ELECTION_TICKS && lone.node.status().role !== "preCandidate"; i++) lone.node.tick();
    expect(lone.node.status().role).toBe("preCandidate");
    lone.node.step({ type: "heartbeat", from: n(2), to: n(1), term: asTerm(5), commit: asIndex(0), context: new Uint8Array(0) });
    expect(lone.node.status()).toMatchObject({ role: "follower", leader: 2, term: 5 });
  });

  it("a candidate wins with a majority of pre-votes and then votes", () => {
    const lone = loneNode(1, [1, 2, 3], { term: 2 });
    for (let i = 0; i < 2 * ELECTION_TICKS && lone.node.status().role !== "preCandidate"; i++) lone.node.tick();
    lone.node.step({ type: "preVoteResp", from: n(2), to: n(1), term: asTerm(3), reject: false });
    expect(lone.node.status()).toMatchObject({ role: "candidate", term: 3, vote: 1 });
    lone.node.step({ type: "voteResp", from: n(3), to: n(1), term: asTerm(3), reject: false });
    expect(lone.node.status()).toMatchObject({ role: "leader", term: 3 });
  });

  it("appends an empty no-op entry of its term on becoming leader", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    const last = leader.storage.lastIndex();
    const noop = leader.storage.entries(last, asIndex(last + 1), 1_000)[0];
    expect(noop).toMatchObject({ term: leader.node.status().term, kind: "normal" });
    expect(noop?.data.byteLength).toBe(0);
  });

  it("followers in a leader's lease ignore vote requests, unless the vote follows a transfer", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    const term = leader.node.status().term;
    const follower = net.get(2);
    const before = net.sent.length;
    follower.node.step(voteRequest(3, 2, term + 1, 99, term));
    net.flush();
    expect(follower.node.status().term).toBe(term);
    expect(net.sent.slice(before).some((m) => m.from === 2 && m.type === "voteResp")).toBe(false);
    follower.node.step(voteRequest(3, 2, term + 1, 99, term, true));
    expect(follower.node.status()).toMatchObject({ term: term + 1, vote: 3 });
  });

  it("a leader that has not heard from a majority within an election timeout steps down", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(1);
    net.tickAll(ELECTION_TICKS - 1, [1]);
    expect(leader.node.status().role).toBe("leader");
    net.tickAll(ELECTION_TICKS + 1, [1]);
    expect(leader.node.status().role).toBe("follower");
  });

  it("a leader that keeps hearing from a majority stays leader", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(3);
    net.tickAll(10 * ELECTION_TICKS, [1, 2]);
    expect(leader.node.status().role).toBe("leader");
  });

  it("ignores messages addressed to another node or claiming to come from nobody", () => {
    const lone = loneNode(2, [1, 2, 3]);
    lone.node.step(voteRequest(1, 3, 1, 0, 0));
    lone.node.step(voteRequest(0, 2, 1, 0, 0));
    expect(lone.node.hasReady()).toBe(false);
    expect(lone.node.status().term).toBe(0);
  });

  it("re-elects after the leader fails, and the old leader follows on return", () => {
    const net = new Network({ voters: [1, 2, 3], seed: 3 });
    net.campaign(1);
    net.isolate(1);
    const next = net.electLeader(300, [2, 3]);
    net.heal();
    net.tickAll(3 * ELECTION_TICKS);
    expect(net.get(1).node.status()).toMatchObject({ role: "follower", leader: next.id });
  });
});
