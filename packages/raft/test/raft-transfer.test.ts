// Leadership transfer: proposals refused while transferring, the target brought up to date
// then told to campaign at once (past leader leases), and abandonment after a timeout.

import { describe, expect, it } from "vitest";
import { asNodeId } from "../src/index.js";
import { ELECTION_TICKS, Network } from "./helpers/network.js";

const n = asNodeId;

describe("leadership transfer", () => {
  it("hands over to an up-to-date follower at once, in the next term", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    const term = leader.node.status().term;
    expect(leader.node.transferLeader(n(3))).toEqual({ ok: true });
    expect(leader.node.status().leadTransferee).toBe(3);
    expect(net.propose(1, "x")).toMatchObject({ ok: false, reason: "transferring" });
    net.flush();
    expect(net.get(3).node.status()).toMatchObject({ role: "leader", term: term + 1 });
    expect(net.sent.some((m) => m.type === "timeoutNow" && m.to === 3)).toBe(true);
    expect(net.sent.some((m) => m.type === "vote" && m.from === 3 && m.transfer)).toBe(true);
  });

  it("brings a lagging target up to date before telling it to campaign", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
    net.flush();
    leader.node.transferLeader(n(3));
    net.flush();
    expect(net.sent.some((m) => m.type === "timeoutNow")).toBe(false);
    net.heal();
    net.tickAll(2);
    const s3 = net.get(3);
    expect(s3.node.status().role).toBe("leader");
    expect(s3.applied).toEqual(["e0", "e1", "e2", "e3", "e4"]);
  });

  it("abandons the transfer after an election timeout and accepts proposals again", () => {
    const net = new Network({ voters: [1, 2, 3] });
    const leader = net.campaign(1);
    net.isolate(3);
    net.propose(1, "e");
    net.flush();
    leader.node.transferLeader(n(3));
    net.tickAll(ELECTION_TICKS, [1, 2]);
    expect(leader.node.status()).toMatchObject({ role: "leader", leadTransferee: 0 });
    expect(net.propose(1, "again").ok).toBe(true);
  });

  it("refuses a transfer to itself, to a learner, or from a follower", () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    const leader = net.campaign(1);
    expect(leader.node.transferLeader(n(1))).toMatchObject({ ok: false, reason: "invalid" });
    expect(leader.node.transferLeader(n(4))).toMatchObject({ ok: false, reason: "invalid" });
    expect(net.get(2).node.transferLeader(n(3))).toMatchObject({ ok: false, reason: "notLeader", leader: 1 });
  });
});
