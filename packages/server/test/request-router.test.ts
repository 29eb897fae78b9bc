// Forwarding to another region: the router's first guess of that region's leader may be a
// dead node; it must then try the region's other nodes instead of stranding the request.
// Watches are never forwarded: served here for this region's locks and global keys, refused
// for anything else, and refused when a peer forwards one.
import type { ChannelValidator, ClientResponse, MessageHandler, PeerTransport, SendOutcome } from "@geolock/transport";
import { describe, expect, it } from "vitest";
import type { GlobalService } from "../src/global-service.js";
import type { LockService } from "../src/lock-service.js";
import { LockWatches, type WatchSink } from "../src/lock-watches.js";
import { FORWARD_CHANNEL, FORWARD_REPLY_CHANNEL, RequestRouter } from "../src/request-router.js";
import { localTopology } from "../src/topology.js";

/** A transport on which us-west/1 is unreachable and us-west/2 answers every forward with ok. */
class FakeTransport implements PeerTransport {
  readonly self = "us-east/1";
  readonly sent: string[] = [];
  private readonly handlers = new Map<string, { validate: ChannelValidator<unknown>; onMessage: MessageHandler<unknown> }>();

  constructor(private readonly down: ReadonlySet<string>) {}

  registerChannel<T>(name: string, validate: ChannelValidator<T>, onMessage: MessageHandler<T>): void {
    this.handlers.set(name, { validate: validate as ChannelValidator<unknown>, onMessage: onMessage as MessageHandler<unknown> });
  }

  send(to: string, channel: string, message: unknown): SendOutcome {
    this.sent.push(to);
    if (channel !== FORWARD_CHANNEL) return "queued";
    const { fid } = message as { fid: number };
    const reply = { fid, response: { id: 0, ok: true, result: { type: "granted", served: to } } satisfies ClientResponse };
    const handler = this.handlers.get(FORWARD_REPLY_CHANNEL);
    queueMicrotask(() => {
      const checked = handler?.validate(reply, to);
      if (checked?.ok === true) handler?.onMessage(to, checked.value);
    });
    return "queued";
  }

  /** What this node's validator makes of a message arriving on `channel`. */
  validate(channel: string, payload: unknown): ReturnType<ChannelValidator<unknown>> | undefined {
    return this.handlers.get(channel)?.validate(payload, "us-east/2");
  }

  isConnected(peer: string): boolean {
    return !this.down.has(peer);
  }

  stats(): ReturnType<PeerTransport["stats"]> {
    return { peers: new Map(), handshakesRefused: 0 };
  }

  async close(): Promise<void> {}
}

function router(transport: FakeTransport): RequestRouter {
  const service = { isLeader: () => false, leaderHint: () => undefined } as unknown as LockService;
  const options = { topology: localTopology(), region: "us-east", self: "us-east/1", forwardHopsMax: 3, forwardTimeoutMs: 1_000, forwardsInFlightMax: 100 };
  return new RequestRouter(options, service, {} as GlobalService, transport);
}

const acquire = (id: number) =>
  ({ id, op: "acquire", name: "us-west:job", sessionId: 7, mode: "exclusive", waitMs: 0, owner: "t", clientId: "c", seq: id }) as const;

describe("forwarding to another region", () => {
  it("tries the region's other nodes when its leader guess is down, and remembers the one that answered", async () => {
    const transport = new FakeTransport(new Set(["us-west/1"]));
    const r = router(transport);
    const first = await r.handle(acquire(1));
    expect(first).toMatchObject({ id: 1, ok: true, result: { served: "us-west/2" } });
    const second = await r.handle(acquire(2));
    expect(second).toMatchObject({ id: 2, ok: true, result: { served: "us-west/2" } });
    expect(transport.sent).toEqual(["us-west/2", "us-west/2"]);
    r.stop();
  });

  it("answers NOT_LEADER when no node of the region can be reached", async () => {
    const r = router(new FakeTransport(new Set(["us-west/1", "us-west/2", "us-west/3"])));
    const response = await r.handle(acquire(3));
    expect(response).toMatchObject({ id: 3, ok: false, error: { code: "NOT_LEADER" } });
    r.stop();
  });
});

describe("watches", () => {
  const options = { topology: localTopology(), region: "us-east", self: "us-east/1", forwardHopsMax: 3, forwardTimeoutMs: 1_000, forwardsInFlightMax: 100 };
  const sink: WatchSink = { push: () => undefined };

  function watchRouter(): { r: RequestRouter; served: string[]; transport: FakeTransport; watches: LockWatches } {
    const served: string[] = [];
    const watches = new LockWatches();
    const service = {
      isLeader: () => false,
      leaderHint: () => undefined,
      watches,
      watch: (_sink: WatchSink, _id: number, name: string) => {
        served.push(`regional ${name}`);
        return Promise.resolve({ index: 1, status: {} });
      },
    } as unknown as LockService;
    const global = {
      watch: (_sink: WatchSink, _id: number, key: string) => {
        served.push(`global ${key}`);
        return { index: 0, status: {} };
      },
    } as unknown as GlobalService;
    const transport = new FakeTransport(new Set());
    return { r: new RequestRouter(options, service, global, transport), served, transport, watches };
  }

  it("serves a watch of this region's lock and of a global key here, and forwards none", async () => {
    const { r, served, transport } = watchRouter();
    expect(await r.serveWatch({ id: 1, op: "watch", name: "us-east:x", watchId: 1 }, sink)).toMatchObject({ id: 1, ok: true, result: { index: 1 } });
    expect(await r.serveWatch({ id: 2, op: "watch", name: "global:x", watchId: 2 }, sink)).toMatchObject({ id: 2, ok: true, result: { index: 0 } });
    expect(served).toEqual(["regional us-east:x", "global global:x"]);
    expect(transport.sent).toEqual([]);
    r.stop();
  });

  it("refuses another region's lock, a name of no region, and an oversize name, serving nothing", async () => {
    const { r, served, transport } = watchRouter();
    expect(await r.serveWatch({ id: 1, op: "watch", name: "us-west:x", watchId: 1 }, sink)).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("region us-west") } });
    expect(await r.serveWatch({ id: 2, op: "watch", name: "nowhere:x", watchId: 1 }, sink)).toMatchObject({ ok: false, error: { code: "INVALID_NAME" } });
    // 200 two-byte characters: within the protocol's 512 characters, beyond a name's 256 bytes.
    expect(await r.serveWatch({ id: 3, op: "watch", name: `us-east:${"é".repeat(200)}`, watchId: 1 }, sink)).toMatchObject({ ok: false, error: { code: "INVALID_NAME" } });
    expect(served).toEqual([]);
    expect(transport.sent).toEqual([]);
    r.stop();
  });

  it("answers an unwatch of an id it does not hold with ended: false", async () => {
    const { r, watches } = watchRouter();
    watches.watch(sink, 5, "us-east:x", 0);
    expect(await r.serveWatch({ id: 1, op: "unwatch", watchId: 6 }, sink)).toEqual({ id: 1, ok: true, result: { ended: false } });
    expect(await r.serveWatch({ id: 2, op: "unwatch", watchId: 5 }, sink)).toEqual({ id: 2, ok: true, result: { ended: true } });
    expect(watches.size).toBe(0);
    r.stop();
  });

  it("refuses a watch that a peer forwards", () => {
    const { r, transport } = watchRouter();
    const forwarded = transport.validate(FORWARD_CHANNEL, { fid: 1, request: { id: 1, op: "watch", name: "us-east:x", watchId: 1 } });
    expect(forwarded).toMatchObject({ ok: false });
    expect(transport.validate(FORWARD_CHANNEL, { fid: 2, request: { id: 2, op: "status", name: "us-east:x" } })).toMatchObject({ ok: true });
    r.stop();
  });
});
