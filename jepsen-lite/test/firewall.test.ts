// Partitions as the harness makes them: nftables rules per loopback address pair. Needs
// root (CAP_NET_ADMIN) and nft; without them the test says so and is skipped, and the
// harness itself refuses to run a partition nemesis (it never pretends to partition).

import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutBetween, findNft, Firewall, NFT_TABLE, tableExists, tcpReachable } from "@geolock/jepsen-lite";

const usable = process.getuid?.() === 0 && findNft() !== undefined;
if (!usable) console.warn("firewall.test.ts: skipped: needs root and nft (Debian package nftables)");

const PORT = 19291;
const A = "127.0.0.71";
const B = "127.0.0.72";
/** Not the harness's table, so a run in a parallel test file is never disturbed. */
const TABLE = `${NFT_TABLE}_selftest`;

/** Whether a TCP connection from `from` to B:PORT opens within the timeout. */
function reaches(from: string): Promise<boolean> {
  return tcpReachable({ host: B, port: PORT, localAddress: from, timeoutMs: 500 });
}

describe.skipIf(!usable)("nftables partitions", () => {
  let server: Server;
  let fw: Firewall;

  beforeAll(async () => {
    server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(PORT, B, resolve));
    const opened = await Firewall.open(TABLE);
    if (!opened.ok) throw new Error(opened.error);
    fw = opened.value;
  });

  afterAll(async () => {
    await fw?.heal();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("cuts traffic between two node addresses, leaves clients on 127.0.0.1 alone, and heals", async () => {
    expect(await reaches(A)).toBe(true);
    await fw.apply(cutBetween([A], [B]));
    expect(tableExists(TABLE)).toBe(true);
    expect(await reaches(A)).toBe(false);
    expect(await reaches("127.0.0.1")).toBe(true);
    await fw.heal();
    expect(tableExists(TABLE)).toBe(false);
    expect(await reaches(A)).toBe(true);
  });
});
