// A minimal Redis client (RESP2) for the baseline: one TCP connection, any number of
// commands in flight (pipelining), replies matched to commands in FIFO order as Redis
// guarantees. Commands written in the same tick leave in one write (cork/uncork), which is
// how a pipelining client amortises syscalls. Bounded: at most `maxPending` commands in
// flight and replies at most `maxReplyBytes` long; a violation rejects, never grows.

import { connect, type Socket } from "node:net";

export type RespValue = string | number | null | RespValue[];

/** An error reply from Redis ("-ERR ..."), as opposed to a failed connection. */
export class RespError extends Error {
  override readonly name = "RespError";
}

export interface RespClientOptions {
  readonly maxPending?: number;
  readonly maxReplyBytes?: number;
}

interface Pending {
  readonly resolve: (value: RespValue) => void;
  readonly reject: (err: Error) => void;
}

const DEFAULT_MAX_PENDING = 100_000;
const DEFAULT_MAX_REPLY_BYTES = 16 * 1024 * 1024;
const CR = 13;

/** Marks a reply that is not complete in the buffer yet. */
const INCOMPLETE = Symbol("incomplete");
type Parsed = RespValue | RespError | typeof INCOMPLETE;

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number)[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const s = typeof arg === "number" ? String(arg) : arg;
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

/**
 * An incremental RESP2 reply parser. feed() bytes as they arrive; next() returns one complete
 * reply or INCOMPLETE. Unconsumed bytes are kept for the next feed.
 */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  constructor(private readonly maxReplyBytes = DEFAULT_MAX_REPLY_BYTES) {}

  feed(chunk: Buffer): void {
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
    if (this.buf.length > this.maxReplyBytes) {
      throw new Error(`RESP reply larger than ${this.maxReplyBytes} bytes`);
    }
  }

  /** The next complete reply, or undefined when the buffer holds only part of one. */
  next(): RespValue | RespError | undefined {
    const start = this.pos;
    const value = this.parseAt(0);
    if (value === INCOMPLETE) {
      this.pos = start;
      return undefined;
    }
    return value;
  }

  /** Parses one value at this.pos and advances past it; INCOMPLETE leaves pos undefined. */
  private parseAt(depth: number): Parsed {
    if (depth > 8) throw new Error("RESP reply nested deeper than 8 arrays");
    const cr = this.buf.indexOf(CR, this.pos);
    if (cr < 0 || cr + 1 >= this.buf.length) return INCOMPLETE;
    const type = this.buf[this.pos];
    const line = this.buf.toString("latin1", this.pos + 1, cr);
    this.pos = cr + 2;
    switch (type) {
      case 0x2b: // '+'
        return line;
      case 0x2d: // '-'
        return new RespError(line);
      case 0x3a: // ':'
        return Number(line);
      case 0x24: // '$'
        return this.parseBulk(Number(line));
      case 0x2a: // '*'
        return this.parseArray(Number(line), depth);
      default:
        throw new Error(`RESP protocol error: unexpected type byte ${String(type)}`);
    }
  }

  private parseBulk(length: number): Parsed {
    if (length === -1) return null;
    if (!Number.isInteger(length) || length < 0) throw new Error(`RESP protocol error: bulk length ${length}`);
    if (this.pos + length + 2 > this.buf.length) return INCOMPLETE;
    const value = this.buf.toString("utf8", this.pos, this.pos + length);
    this.pos += length + 2;
    return value;
  }

  private parseArray(count: number, depth: number): Parsed {
    if (count === -1) return null;
    if (!Number.isInteger(count) || count < 0) throw new Error(`RESP protocol error: array length ${count}`);
    const items: RespValue[] = [];
    for (let i = 0; i < count; i++) {
      const item = this.parseAt(depth + 1);
      if (item === INCOMPLETE) return INCOMPLETE;
      // An error inside an array (e.g. from EXEC) is a value there, not a failed command.
      items.push(item instanceof RespError ? item.message : item);
    }
    return items;
  }
}

export class RespClient {
  private readonly pending: Pending[] = [];
  private pendingHead = 0;
  private readonly parser: RespParser;
  private readonly maxPending: number;
  private corked = false;
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket, options: RespClientOptions) {
    this.parser = new RespParser(options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES);
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("redis connection closed")));
  }

  /** Connects to 127.0.0.1:`port` (or `host`); rejects on a refused or failed connection. */
  static connect(port: number, host = "127.0.0.1", options: RespClientOptions = {}): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RespClient(socket, options));
      });
    });
  }

  get inFlight(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Sends one command; resolves with its reply, rejects with RespError on an error reply. */
  command(...args: (string | number)[]): Promise<RespValue> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    if (this.inFlight >= this.maxPending) {
      return Promise.reject(new Error(`more than ${this.maxPending} redis commands in flight`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.socket.end();
    this.fail(new Error("redis client closed"));
  }

  private onData(chunk: Buffer): void {
    try {
      this.parser.feed(chunk);
      for (let reply = this.parser.next(); reply !== undefined; reply = this.parser.next()) {
        this.settle(reply);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      this.socket.destroy();
    }
  }

  private settle(reply: RespValue | RespError): void {
    const p = this.pending[this.pendingHead];
    if (p === undefined) throw new Error("redis sent a reply to no command");
    this.pendingHead += 1;
    // Compact the queue now and then instead of shifting on every reply.
    if (this.pendingHead >= 1024 && this.pendingHead * 2 >= this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
    if (reply instanceof RespError) p.reject(reply);
    else p.resolve(reply);
  }

  private fail(err: Error): void {
    this.closedError ??= err;
    const waiting = this.pending.splice(this.pendingHead);
    this.pending.length = 0;
    this.pendingHead = 0;
    for (const p of waiting) p.reject(err);
  }
}
