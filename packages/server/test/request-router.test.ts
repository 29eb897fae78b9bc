// Forwarding to another region: the router's first guess of that region's leader may be a
// dead node; it must then try the region's other nodes instead of stranding the request.
import type { ChannelValidator, ClientResponse, MessageHandler, PeerTransport, SendOutcome } from "@geolock/transport";
import { describe, expect, it } from "vitest";
import type { GlobalService } from "../src/global-service.js";
import type { LockService } from "../src/lock-service.js";
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
