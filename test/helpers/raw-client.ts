// A bare client for end-to-end tests of the server itself: one WebSocket, MessagePack
// frames, request ids, a deadline on every call. The real client library is packages/client.

import { decodePlain, encodeValue, type ClientPush, type ClientRequestBody, type ClientResponse } from "@geolock/transport";
import WebSocket from "ws";

export class RawClient {
  private nextId = 1;
  private readonly pending = new Map<number, (response: ClientResponse) => void>();
  readonly pushes: ClientPush[] = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data: Buffer) => {
      const decoded = decodePlain(data, 16);
      if (!decoded.ok || !Array.isArray(decoded.value)) throw new Error(`bad frame from server: ${decoded.ok ? "not an array" : decoded.reason}`);
      for (const message of decoded.value as (ClientResponse | ClientPush)[]) {
        if ("push" in message) this.pushes.push(message);
        else this.pending.get(message.id)?.(message);
      }
    });
    socket.on("close", () => {
      for (const [id, settle] of this.pending) settle({ id, ok: false, error: { code: "UNAVAILABLE", message: "connection closed" } });
      this.pending.clear();
    });
  }

  static connect(url: string, timeoutMs = 5_000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`connect to ${url} timed out`));
      }, timeoutMs);
      socket.once("open", () => {
        clearTimeout(timer);
        resolve(new RawClient(socket));
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  call(body: ClientRequestBody, timeoutMs = 10_000): Promise<ClientResponse> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ id, ok: false, error: { code: "TIMEOUT", message: `no answer within ${timeoutMs} ms` } });
      }, timeoutMs);
      this.pending.set(id, (response) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(response);
      });
      this.socket.send(encodeValue([{ id, ...body }]));
    });
  }

  close(): void {
    this.socket.terminate();
  }
}
