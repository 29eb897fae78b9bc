// The in-memory twin of WsTransport, for tests of the server and the drivers. It keeps the
// parts where bugs hide and drops the socket: messages are encoded into envelopes, framed
// once per turn, decoded and validated by the receiver exactly as on the wire, and handed
// over asynchronously. Links can be cut and healed; a closed transport's id can be created
// again, which is how a test restarts a node.
//
// A closed peer is a node that is down: as with WsTransport while it redials, messages
// wait in the bounded per-peer queue and flow once the peer is back. A cut link is a
// partition: the link looks down and frames sent over it are lost (counted as
// droppedUnreachable), as frames written to a socket whose path died are. A frame that
// fails validation is dropped and counted, and never reaches a handler.

import { ChannelRegistry } from "./channels.js";
import { encodeEnvelope } from "./codec.js";
import { SendQueue } from "./send-queue.js";
import {
  isPeerId,
  resolveLimits,
  SILENT_LOGGER,
  zeroCounters,
  type ChannelValidator,
  type LinkCounters,
  type MessageHandler,
  type PeerId,
  type PeerStats,
  type PeerTransport,
  type SendOutcome,
  type TransportLimits,
  type TransportLogger,
  type TransportStats,
} from "./types.js";

export interface MemoryNetworkOptions {
  readonly limits?: Partial<TransportLimits>;
  readonly logger?: TransportLogger;
}

/** A set of MemoryTransports that can reach each other, and the switch that cuts links. */
export class MemoryTransportNetwork {
  readonly limits: TransportLimits;
  readonly logger: TransportLogger;
  private readonly members = new Map<PeerId, MemoryTransport>();
  /** Cut links, as "a|b" with a < b: links are symmetric. */
  private readonly cutLinks = new Set<string>();

  constructor(options: MemoryNetworkOptions = {}) {
    this.limits = resolveLimits(options.limits);
    this.logger = options.logger ?? SILENT_LOGGER;
  }

  /** Adds a node (or restarts one whose previous transport was closed). */
  create(self: PeerId): MemoryTransport {
    if (!isPeerId(self)) throw new Error(`${JSON.stringify(self)} is not a PeerId (region/node)`);
    const existing = this.members.get(self);
    if (existing !== undefined && !existing.isClosed) throw new Error(`${self} already has an open transport`);
    const transport = new MemoryTransport(self, this);
    this.members.set(self, transport);
    this.wake(self);
    return transport;
  }

  /** Whether `peer` was ever created in this network (a configured peer, up or down). */
  knows(peer: PeerId): boolean {
    return this.members.has(peer);
  }

  cut(a: PeerId, b: PeerId): void {
    this.cutLinks.add(linkKey(a, b));
  }

  heal(a: PeerId, b: PeerId): void {
    if (this.cutLinks.delete(linkKey(a, b))) {
      this.members.get(a)?.wake(b);
      this.members.get(b)?.wake(a);
    }
  }

  /** Cuts every link of `peer`. */
  isolate(peer: PeerId): void {
    for (const other of this.members.keys()) if (other !== peer) this.cut(peer, other);
  }

  healAll(): void {
    const cut = [...this.cutLinks];
    this.cutLinks.clear();
    for (const key of cut) {
      const [a, b] = key.split("|") as [PeerId, PeerId];
      this.members.get(a)?.wake(b);
      this.members.get(b)?.wake(a);
    }
  }

  /** Where a frame from `from` to `to` goes now: to the open transport, lost, or nowhere yet. */
  route(from: PeerId, to: PeerId): MemoryTransport | "cut" | "down" {
    const target = this.members.get(to);
    if (target === undefined || target.isClosed) return "down";
    return this.cutLinks.has(linkKey(from, to)) ? "cut" : target;
  }

  async close(): Promise<void> {
    for (const member of this.members.values()) await member.close();
  }

  /** Lets every other member flush what it queued for `peer`. */
  private wake(peer: PeerId): void {
    for (const [id, member] of this.members) if (id !== peer) member.wake(peer);
  }
}

function linkKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

interface MemoryLink {
  readonly queue: SendQueue;
  readonly counters: LinkCounters;
  flushHandle: NodeJS.Immediate | undefined;
}

export class MemoryTransport implements PeerTransport {
  private readonly registry = new ChannelRegistry();
  private readonly links = new Map<PeerId, MemoryLink>();
  private closed = false;

  constructor(
    readonly self: PeerId,
    private readonly network: MemoryTransportNetwork,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  registerChannel<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void {
    this.registry.register(name, validate, onMessage);
  }

  send(to: PeerId, channel: string, message: unknown): SendOutcome {
    const link = this.link(to);
    this.registry.assertRegistered(channel);
    if (this.closed) return count(link, "droppedClosed");
    const outcome = link.queue.push(encodeEnvelope(channel, message));
    if (outcome !== "queued") return count(link, outcome);
    this.wake(to);
    return outcome;
  }

  isConnected(peer: PeerId): boolean {
    return !this.closed && peer !== this.self && typeof this.network.route(this.self, peer) === "object";
  }

  stats(): TransportStats {
    const peers = new Map<PeerId, PeerStats>();
    for (const [peer, link] of this.links) {
      peers.set(peer, {
        connected: this.isConnected(peer),
        queuedMessages: link.queue.messages,
        queuedBytes: link.queue.bytes,
        bufferedBytes: 0,
        counters: { ...link.counters },
      });
    }
    return { peers, handshakesRefused: 0 };
  }

  close(): Promise<void> {
    this.closed = true;
    for (const link of this.links.values()) {
      clearImmediate(link.flushHandle);
      link.flushHandle = undefined;
      link.counters.droppedClosed += link.queue.clear();
    }
    return Promise.resolve();
  }

  /** Schedules a flush towards `peer` at the end of this turn, if anything is queued. */
  wake(peer: PeerId): void {
    const link = this.links.get(peer);
    if (this.closed || link === undefined || link.flushHandle !== undefined || link.queue.messages === 0) return;
    link.flushHandle = setImmediate(() => this.deliver(peer, link));
  }

  private deliver(peer: PeerId, link: MemoryLink): void {
    link.flushHandle = undefined;
    // Bounded: every iteration removes at least one of at most maxQueuedMessages envelopes.
    // Reachability is re-read per frame: a handler may cut the link or close either side.
    while (!this.closed) {
      const target = this.network.route(this.self, peer);
      if (target === "down") return;
      const taken = link.queue.takeFrame();
      if (taken === undefined) return;
      if (target === "cut") {
        link.counters.droppedUnreachable += taken.messages;
        continue;
      }
      link.counters.framesSent += 1;
      link.counters.messagesSent += taken.messages;
      link.counters.bytesSent += taken.frame.length;
      target.receive(this.self, taken.frame);
    }
  }

  /** The receive path of a frame from `from`: decode, validate all, then deliver. */
  private receive(from: PeerId, frame: Uint8Array): void {
    if (this.closed) return;
    const link = this.link(from);
    const verdict = this.registry.accept(frame, from, this.network.limits);
    if (!verdict.ok) {
      link.counters.framesRejected += 1;
      this.network.logger.warn({ self: this.self, peer: from, reason: verdict.reason }, "malformed frame dropped");
      return;
    }
    link.counters.framesReceived += 1;
    link.counters.messagesReceived += verdict.frame.deliveries.length;
    link.counters.bytesReceived += frame.length;
    ChannelRegistry.deliver(verdict.frame, from);
  }

  private link(peer: PeerId): MemoryLink {
    let link = this.links.get(peer);
    if (link === undefined) {
      if (peer === this.self || !this.network.knows(peer)) throw new Error(`send from ${this.self} to unknown peer ${peer}`);
      link = { queue: new SendQueue(this.network.limits), counters: zeroCounters(), flushHandle: undefined };
      this.links.set(peer, link);
    }
    return link;
  }
}

function count(link: MemoryLink, outcome: Exclude<SendOutcome, "queued">): SendOutcome {
  link.counters[outcome] += 1;
  return outcome;
}
