// The Paxos peer channel between regions. A Paxos message is addressed to a *region*; it is
// delivered to that region's Raft leader, the only node that runs the region's proposer and
// sends its acceptor's replies. The sender keeps a guess of each region's leader (corrected
// by every message a region's leader sends, and by hints) and falls back to another node of
// the region when the link to the guess is down. A node that receives a message but does not
// lead hands it, once, to its own leader and tells the sender whom to use next time.
//
// Trust: a frame is accepted only after decodeMessage validated every field, only when it is
// addressed to this node's region, and only when its claimed sender region is the region of
// the authenticated peer it came from (or, for a frame a sibling handed on, this very region,
// whose nodes checked the origin when it first arrived).

import { decodeMessage, type PaxosConfig, type PaxosMessage, type RegionId } from "@geolock/paxos";
import { isPeerId, type PeerId, type PeerTransport, type ValidationResult } from "@geolock/transport";
import type { Topology } from "./topology.js";
import { peerName } from "./topology.js";

export const PAXOS_CHANNEL = "paxos";
export const PAXOS_HINT_CHANNEL = "paxos-hint";

/** On the wire: the message, and whether a sibling of the receiver handed it on. */
interface PaxosFrame {
  readonly m: PaxosMessage;
  readonly handedOn: boolean;
}

/** "Region R is led by node L": sent back to a sender that reached a non-leader. */
interface LeaderHint {
  readonly region: string;
  readonly leader: PeerId;
}

export interface PaxosPeersOptions {
  readonly topology: Topology;
  readonly region: RegionId;
  readonly self: PeerId;
  readonly paxos: PaxosConfig;
}

/** What the peer channel needs from the region's global service. */
export interface PaxosPeersHost {
  /** Whether this node leads its region now (only the leader handles Paxos messages). */
  isLeader(): boolean;
  /** This region's leader as this node knows it, if any. */
  leaderPeer(): PeerId | undefined;
  /** A validated message for this region, on its leader. */
  deliver(message: PaxosMessage): void;
}

export interface PaxosPeersStats {
  sent: number;
  received: number;
  handedOn: number;
  dropped: number;
  refused: number;
}

export class PaxosPeers {
  private readonly nodesOf = new Map<string, readonly PeerId[]>();
  private readonly regionOfPeer = new Map<PeerId, string>();
  /** Where each other region's leader was last seen. */
  private readonly leaderGuess = new Map<string, PeerId>();
  private host: PaxosPeersHost | undefined;
  readonly stats: PaxosPeersStats = { sent: 0, received: 0, handedOn: 0, dropped: 0, refused: 0 };

  constructor(
    private readonly options: PaxosPeersOptions,
    private readonly transport: PeerTransport,
  ) {
    for (const region of options.topology.regions) {
      const nodes = region.nodes.map((n) => peerName(region.name, n.id));
      this.nodesOf.set(region.name, nodes);
      for (const node of nodes) this.regionOfPeer.set(node, region.name);
      const first = nodes[0];
      if (first !== undefined) this.leaderGuess.set(region.name, first);
    }
    transport.registerChannel(PAXOS_CHANNEL, (payload, from) => this.validateFrame(payload, from), (from, frame) => this.onFrame(from, frame));
    transport.registerChannel(PAXOS_HINT_CHANNEL, (payload, from) => this.validateHint(payload, from), (_from, hint) => this.leaderGuess.set(hint.region, hint.leader));
  }

  attach(host: PaxosPeersHost): void {
    this.host = host;
  }

  /** Sends a message to the leader of `message.to` (never this region: the caller handles those locally). */
  send(message: PaxosMessage): void {
    const target = this.targetIn(message.to);
    if (target === undefined) {
      this.stats.dropped += 1;
      return;
    }
    const outcome = this.transport.send(target, PAXOS_CHANNEL, { m: message, handedOn: false } satisfies PaxosFrame);
    if (outcome === "queued") this.stats.sent += 1;
    else this.stats.dropped += 1; // lost like any message: the proposer retransmits
  }

  /** The guessed leader when its link is up, else the first connected node of the region. */
  private targetIn(region: string): PeerId | undefined {
    const guess = this.leaderGuess.get(region);
    if (guess !== undefined && this.transport.isConnected(guess)) return guess;
    const nodes = this.nodesOf.get(region) ?? [];
    return nodes.find((n) => n !== this.options.self && this.transport.isConnected(n)) ?? guess;
  }

  private onFrame(from: PeerId, frame: PaxosFrame): void {
    const host = this.host;
    if (host === undefined) return;
    this.stats.received += 1;
    if (host.isLeader()) {
      // Only a region's leader sends Paxos messages: the sender leads its region.
      if (!frame.handedOn) this.leaderGuess.set(frame.m.from, from);
      host.deliver(frame.m);
      return;
    }
    const leader = host.leaderPeer();
    if (frame.handedOn || leader === undefined || leader === this.options.self) {
      this.stats.dropped += 1;
      return;
    }
    this.stats.handedOn += 1;
    this.transport.send(leader, PAXOS_CHANNEL, { m: frame.m, handedOn: true } satisfies PaxosFrame);
    this.transport.send(from, PAXOS_HINT_CHANNEL, { region: this.options.region, leader } satisfies LeaderHint);
  }

  private validateFrame(payload: unknown, from: PeerId): ValidationResult<PaxosFrame> {
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return this.refuse("wrongType", "", "a paxos frame must be a map");
    const fields = payload as Record<string, unknown>;
    const keys = Object.keys(fields);
    if (keys.length !== 2 || typeof fields["handedOn"] !== "boolean" || !("m" in fields)) return this.refuse("inconsistent", "", `paxos frame fields ${keys.join(",")}`);
    const decoded = decodeMessage(fields["m"], this.options.paxos);
    if (!decoded.ok) return this.refuse("inconsistent", "m", decoded.error);
    const m = decoded.value;
    const handedOn = fields["handedOn"] === true;
    if (m.to !== this.options.region) return this.refuse("wrongPeer", "m.to", `addressed to ${m.to}, this is ${this.options.region}`);
    const peerRegion = this.regionOfPeer.get(from);
    const expected = handedOn ? this.options.region : m.from;
    if (peerRegion !== expected) return this.refuse("wrongPeer", "m.from", `claims ${m.from} (handed on: ${handedOn}) but came from ${from}`);
    if (m.from === this.options.region) return this.refuse("wrongPeer", "m.from", "a region's own messages never cross the wire");
    return { ok: true, value: { m, handedOn } };
  }

  private validateHint(payload: unknown, from: PeerId): ValidationResult<LeaderHint> {
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return this.refuse("wrongType", "", "a hint must be a map");
    const { region, leader } = payload as Record<string, unknown>;
    if (typeof region !== "string" || !isPeerId(leader)) return this.refuse("wrongType", "", "a hint has a region and a leader");
    if (this.regionOfPeer.get(from) !== region || this.regionOfPeer.get(leader) !== region) return this.refuse("wrongPeer", "leader", `hint about ${region} from ${from}`);
    return { ok: true, value: { region, leader } };
  }

  private refuse<T>(code: "wrongType" | "inconsistent" | "wrongPeer", path: string, detail: string): ValidationResult<T> {
    this.stats.refused += 1;
    return { ok: false, error: { code, path, detail } };
  }
}
