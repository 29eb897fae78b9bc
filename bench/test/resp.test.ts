// Tests the minimal RESP2 client: command encoding, the incremental reply parser (whole,
// split at every possible point, malformed), and pipelining against a fake Redis server on
// 127.0.0.1 that answers in order, so replies must be matched to commands FIFO.
import { createServer, type Server, type Socket } from "node:net";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { encodeCommand, RespClient, RespError, RespParser, type RespValue } from "../src/resp.js";

describe("encodeCommand", () => {
  it("writes an array of bulk strings with byte lengths", () => {
    expect(encodeCommand(["SET", "k", "é", 30])).toBe("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n$2\r\n30\r\n");
  });
});

const REPLIES = "+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:-7\r\n*-1\r\n$0\r\n\r\n";
const EXPECTED: (RespValue | RespError)[] = ["OK", new RespError("ERR wrong"), 42, "hello", null, ["a", [-7]], null, ""];

function parseAll(p: RespParser): (RespValue | RespError)[] {
  const out: (RespValue | RespError)[] = [];
  for (let r = p.next(); r !== undefined && out.length < 100; r = p.next()) out.push(r);
  return out;
}

describe("RespParser", () => {
  it("parses every reply type from one chunk", () => {
    const p = new RespParser();
    p.feed(Buffer.from(REPLIES));
    expect(parseAll(p)).toEqual(EXPECTED);
  });

  it("gives the same replies however the bytes are split into chunks", () => {
    const bytes = Buffer.from(REPLIES);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
        const p = new RespParser();
        const out: (RespValue | RespError)[] = [];
        let from = 0;
        for (const to of [...cuts.sort((a, b) => a - b), bytes.length]) {
          p.feed(bytes.subarray(from, to));
          out.push(...parseAll(p));
          from = to;
        }
        expect(out).toEqual(EXPECTED);
      }),
    );
  });

  it("rejects an unknown type byte and a bad bulk length", () => {
    const a = new RespParser();
    a.feed(Buffer.from("?what\r\n"));
    expect(() => a.next()).toThrow(/unexpected type byte/);
    const b = new RespParser();
    b.feed(Buffer.from("$x\r\n"));
    expect(() => b.next()).toThrow(/bulk length/);
  });

  it("refuses to buffer a reply beyond its size bound", () => {
    const p = new RespParser(16);
    expect(() => p.feed(Buffer.from("$100\r\n0123456789abcdef"))).toThrow(/larger than 16 bytes/);
  });
});

/** A fake Redis: answers each command with ":<n>" where n counts commands on the connection. */
function fakeRedis(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket: Socket) => {
      const parser = new RespParser();
      let n = 0;
      socket.on("data", (chunk: Buffer) => {
        parser.feed(chunk);
        let out = "";
        for (let cmd = parser.next(); cmd !== undefined; cmd = parser.next()) {
          n += 1;
          out += Array.isArray(cmd) && cmd[0] === "FAIL" ? "-ERR asked to fail\r\n" : `:${n}\r\n`;
        }
        socket.write(out);
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 });
    });
  });
}

describe("RespClient", () => {
  let server: Server | undefined;
  let client: RespClient | undefined;
  afterEach(async () => {
    client?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("matches 500 pipelined replies to their commands in order", async () => {
    const fake = await fakeRedis();
    server = fake.server;
    client = await RespClient.connect(fake.port);
    const c = client;
    const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => c.command("INCR", `k${i}`)));
    expect(replies).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(c.inFlight).toBe(0);
  });

  it("rejects an error reply with RespError and keeps the connection usable", async () => {
    const fake = await fakeRedis();
    server = fake.server;
    client = await RespClient.connect(fake.port);
    await expect(client.command("FAIL")).rejects.toBeInstanceOf(RespError);
    expect(await client.command("PING")).toBe(2);
  });

  it("refuses commands beyond maxPending and after close", async () => {
    const fake = await fakeRedis();
    server = fake.server;
    client = await RespClient.connect(fake.port, "127.0.0.1", { maxPending: 2 });
    const first = client.command("A");
    const second = client.command("B");
    await expect(client.command("C")).rejects.toThrow(/more than 2 redis commands in flight/);
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    client.close();
    await expect(client.command("D")).rejects.toThrow(/closed/);
  });

  it("rejects the connect promise when nothing listens", async () => {
    const fake = await fakeRedis();
    const port = fake.port;
    await new Promise<void>((resolve) => fake.server.close(() => resolve()));
    await expect(RespClient.connect(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
