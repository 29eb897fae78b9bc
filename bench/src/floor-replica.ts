// One replica of the `floor` suite's skeleton: the least a majority-durable service must do
// for one operation, on geolock's own stack (ws, msgpackr, LevelDB through the same
// LevelRecordStore, fsync on every batch) and nothing else: no Raft state, no lock state, no
// validation beyond shapes. It is a yardstick, not a service: it answers how fast any lock
// service built on this stack could possibly be on this machine.
//
// - follower: accepts the leader's batches ([seq, payloads]), writes each turn's batches to
//   its store with one fsync, then acknowledges the highest seq written.
// - leader: accepts client frames (a MessagePack array of [id, payload]); each turn's
//   operations become one batch that goes to both followers first and then to its own
//   store; an operation is answered (its id, in one frame per connection) once a majority
//   of the three replicas (itself included) has the batch on disk.
//
// Usage: node bench/dist/floor-replica.js --data DIR [--followers PORT,PORT]
// (a leader when --followers is given). Prints "floor-replica listening on 127.0.0.1:<port>"
// once it accepts connections. Exits on SIGTERM/SIGINT, when its parent is gone, and after
// an hour in any case, so that it never outlives the benchmark that started it. A frame it
// cannot read closes the connection it came on (1008) and changes nothing.

import { createServer } from "node:http";
import { LevelRecordStore, type StoreOp } from "@geolock/storage";
import { decodePlain, encodeValue, zeroFrameMask } from "@geolock/transport";
import WebSocket, { WebSocketServer, type RawData } from "ws";
import { exitWithParent, listenAndAnnounce } from "./child-lifecycle.js";
import { commitIndexOf } from "./floor-quorum.js";

const NAME = "floor-replica";
const LIFETIME_MS = 3_600_000;
const DECODE_DEPTH_MAX = 4;
const CONNECT_TIMEOUT_MS = 5_000;
/** Largest frame a replica reads: a turn of 256 operations of a few hundred bytes each. */
const FRAME_BYTES_MAX = 1 << 20;

interface Args {
  readonly data: string;
  readonly followers: readonly number[];
}

function parseArgs(argv: readonly string[]): Args {
  let data: string | undefined;
  let followers: number[] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === "--data" && value !== undefined) data = value;
    else if (argv[i] === "--followers" && value !== undefined) followers = value.split(",").map(Number);
    else throw new Error(`floor-replica: unknown or incomplete argument ${String(argv[i])}`);
  }
  if (data === undefined) throw new Error("floor-replica: --data DIR is required");
  if (followers.length !== 0 && (followers.length !== 2 || !followers.every((p) => Number.isInteger(p) && p > 0 && p < 65_536))) {
    throw new Error(`floor-replica: --followers takes two ports, got ${followers.join(",")}`);
  }
  return { data, followers };
}

function isSeq(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** The frame's value, or undefined (and the connection closed) when it is not MessagePack. */
function decodeOrClose(socket: WebSocket, data: RawData, isBinary: boolean): unknown {
  const decoded = isBinary && Buffer.isBuffer(data) ? decodePlain(data, DECODE_DEPTH_MAX) : undefined;
  if (decoded?.ok === true) return decoded.value;
  refuse(socket, decoded === undefined ? "not one binary frame" : decoded.reason);
  return undefined;
}

function refuse(socket: WebSocket, reason: string): void {
  process.stderr.write(`${NAME}: closing a connection after a malformed frame (${reason})\n`);
  socket.close(1008, "malformed frame");
}

/** Writes one turn's batches with one fsync, and numbers the records so none overwrites another. */
class BatchWriter {
  private nextKey = 0;

  constructor(private readonly store: LevelRecordStore) {}

  write(payloads: readonly Uint8Array[]): Promise<void> {
    const ops: StoreOp[] = payloads.map((value) => {
      const key = new Uint8Array(8);
      new DataView(key.buffer).setBigUint64(0, BigInt(++this.nextKey));
      return { type: "put", key, value };
    });
    return this.store.write(ops, true);
  }
}

function follow(socket: WebSocket, writer: BatchWriter, fail: (error: unknown) => void): void {
  let queued: { seq: number; bytes: Buffer }[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const batches = queued;
    queued = [];
    const highest = batches.reduce((max, b) => Math.max(max, b.seq), 0);
    writer.write(batches.map((b) => b.bytes)).then(() => socket.send(encodeValue(highest)), fail);
  };
  socket.on("message", (data: RawData, isBinary: boolean) => {
    const message = decodeOrClose(socket, data, isBinary);
    if (message === undefined) return;
    if (!Array.isArray(message) || message.length !== 2 || !isSeq(message[0]) || !Array.isArray(message[1])) return refuse(socket, "a batch is [seq, payloads]");
    queued.push({ seq: message[0], bytes: data as Buffer });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

interface Waiting {
  readonly seq: number;
  readonly answers: Map<WebSocket, number[]>;
}

class Leader {
  private seq = 0;
  /** Highest seq on disk: [this replica, follower 1, follower 2]. */
  private readonly durable = [0, 0, 0];
  private readonly waiting: Waiting[] = [];
  private pending: { socket: WebSocket; ids: number[]; payloads: unknown[] }[] = [];
  private scheduled = false;

  constructor(
    private readonly followers: readonly WebSocket[],
    private readonly writer: BatchWriter,
    private readonly fail: (error: unknown) => void,
  ) {
    followers.forEach((follower, i) =>
      follower.on("message", (data: RawData, isBinary: boolean) => {
        const seq = decodeOrClose(follower, data, isBinary);
        if (seq === undefined) return;
        // An acknowledgement of a batch never sent would commit what no follower has.
        if (!isSeq(seq) || seq > this.seq) return refuse(follower, `acknowledgement ${String(seq)} of batches up to ${this.seq}`);
        this.durable[i + 1] = Math.max(this.durable[i + 1] as number, seq);
        this.answer();
      }),
    );
  }

  /** Queues a client frame's operations ([id, payload] each) for this turn's batch; refuses a malformed frame whole. */
  accept(socket: WebSocket, data: RawData, isBinary: boolean): void {
    const ops = decodeOrClose(socket, data, isBinary);
    if (ops === undefined) return;
    if (!Array.isArray(ops)) return refuse(socket, "a client frame is an array of [id, payload]");
    const ids: number[] = [];
    const payloads: unknown[] = [];
    for (const op of ops as unknown[]) {
      if (!Array.isArray(op) || op.length !== 2 || !isSeq(op[0])) return refuse(socket, "an operation is [id, payload]");
      ids.push(op[0]);
      payloads.push(op[1]);
    }
    this.pending.push({ socket, ids, payloads });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const turn = this.pending;
    this.pending = [];
    const seq = ++this.seq;
    const answers = new Map<WebSocket, number[]>();
    const payloads: unknown[] = [];
    for (const frame of turn) {
      const ids = answers.get(frame.socket);
      if (ids === undefined) answers.set(frame.socket, frame.ids);
      else ids.push(...frame.ids);
      payloads.push(...frame.payloads);
    }
    this.waiting.push({ seq, answers });
    const batch = encodeValue([seq, payloads]);
    // The followers' copies leave first: their fsyncs run while this replica's does.
    for (const follower of this.followers) follower.send(batch);
    this.writer.write([batch]).then(() => {
      this.durable[0] = Math.max(this.durable[0] as number, seq);
      this.answer();
    }, this.fail);
  }

  private answer(): void {
    const committed = commitIndexOf(this.durable);
    while (this.waiting.length > 0 && (this.waiting[0] as Waiting).seq <= committed) {
      for (const [socket, ids] of (this.waiting.shift() as Waiting).answers) socket.send(encodeValue(ids));
    }
  }
}

function connectFollower(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, generateMask: zeroFrameMask, handshakeTimeout: CONNECT_TIMEOUT_MS, maxPayload: FRAME_BYTES_MAX });
    socket.once("open", () => resolve(socket));
    socket.once("error", reject);
  });
}

async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  const store = await LevelRecordStore.open(args.data);
  const writer = new BatchWriter(store);
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: FRAME_BYTES_MAX });
  const exit = (code: number): void => {
    wss.close();
    http.close();
    void store.close().finally(() => process.exit(code));
  };
  const fail = (error: unknown): void => {
    process.stderr.write(`${NAME} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exit(1);
  };
  const followers = await Promise.all(args.followers.map(connectFollower));
  const leader = followers.length > 0 ? new Leader(followers, writer, fail) : undefined;
  wss.on("connection", (socket: WebSocket) => {
    socket.on("error", () => socket.terminate());
    if (leader === undefined) follow(socket, writer, fail);
    else socket.on("message", (data: RawData, isBinary: boolean) => leader.accept(socket, data, isBinary));
  });
  exitWithParent(NAME, LIFETIME_MS, exit);
  process.on("uncaughtException", fail);
  listenAndAnnounce(http, NAME);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${NAME}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
