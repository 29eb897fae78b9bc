// Test fixtures for real sockets: an HTTP server on 127.0.0.1 that routes /peer upgrades
// to a transport (as the node's server will), a bounded wait, and a raw peer that speaks
// the handshake by hand so tests can misbehave in ways a WsTransport never would.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket } from "ws";
import { DialerHandshake } from "../src/handshake.js";
import type { PeerId } from "../src/types.js";
import type { WsTransport } from "../src/ws-transport.js";

export interface PeerServer {
  readonly port: number;
  readonly url: string;
  /** Where /peer upgrades go; undefined refuses them. */
  transport: WsTransport | undefined;
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (port 0 = ephemeral) routing /peer to `transport`. */
export async function startPeerServer(port = 0): Promise<PeerServer> {
  const server: Server = createServer((_request, response) => response.writeHead(404).end());
  const result: PeerServer = {
    port: 0,
    url: "",
    transport: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on("upgrade", (request, socket, head) => {
    if (request.url === "/peer" && result.transport !== undefined) result.transport.handleUpgrade(request, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return Object.assign(result, { port: actual, url: `ws://127.0.0.1:${actual}/peer` });
}

/** Polls `condition` every few ms until it holds; throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface RawPeer {
  readonly ws: WebSocket;
  /** Resolves with the close code once the socket is closed (by either side). */
  readonly closed: Promise<number>;
  /** The handshake messages this peer sent, in order, for replay tests. */
  readonly sent: Uint8Array[];
}

/** Opens a raw socket to `url`; resolves once it is open (before any handshake). */
export async function openRaw(url: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", (code) => reject(new Error(`raw socket closed with ${code} before opening`)));
  });
  return { ws, closed };
}

/** A dialer that authenticates as `self` by hand; resolves once it has sent its proof. */
export async function connectRawPeer(url: string, self: PeerId, acceptor: PeerId, secret: Uint8Array): Promise<RawPeer> {
  const { ws, closed } = await openRaw(url);
  const handshake = new DialerHandshake({ self, secret }, acceptor);
  const sent: Uint8Array[] = [handshake.hello()];
  const challenge = new Promise<Uint8Array>((resolve, reject) => {
    ws.once("message", (data) => resolve(new Uint8Array(data as Buffer)));
    void closed.then((code) => reject(new Error(`closed with ${code} during handshake`)));
  });
  ws.send(sent[0]!);
  const step = handshake.receive(await challenge);
  if (step.kind !== "authenticated" || step.reply === undefined) throw new Error(`raw handshake failed: ${JSON.stringify(step)}`);
  sent.push(step.reply);
  ws.send(step.reply);
  return { ws, closed, sent };
}

/** A fresh 32-byte secret. */
export function newSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
