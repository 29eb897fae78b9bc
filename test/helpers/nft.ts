// Network partitions between real node processes on one machine, for end-to-end tests. Each
// node listens on and sends from its own loopback address (TestCluster's `host` option), so
// cutting nodes A and B apart is a rule `ip saddr A ip daddr B drop` (and the reverse) in an
// output-hook chain of a table of our own. Healing deletes that table: nothing of ours can
// be left half-applied. Clients connect from 127.0.0.1, which no rule names. Each test file
// uses its own table name, so files running in parallel never heal each other's cuts.

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const NFT_PATHS = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];
const NFT_TIMEOUT_MS = 5_000;
const RULES_MAX = 1_024;

export class PacketFilter {
  private constructor(
    private readonly nft: string,
    readonly table: string,
  ) {}

  /** The filter, or an Error saying what is missing (the package, or root). */
  static open(table: string): PacketFilter {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(table)) throw new Error(`nft table name "${table}" is not [a-z][a-z0-9_]*`);
    const nft = NFT_PATHS.find((p) => existsSync(p));
    if (nft === undefined) throw new Error("this test cuts links with nft: install the Debian package nftables (apt-get install nftables) and run as root");
    const filter = new PacketFilter(nft, table);
    try {
      filter.heal();
      filter.cut([]);
      filter.heal();
    } catch (error) {
      throw new Error(`this test needs ${nft} with root or CAP_NET_ADMIN: ${(error as Error).message}`);
    }
    return filter;
  }

  /** Drops all traffic in both directions between every address of `a` and every address of `b` (replacing earlier cuts). */
  cut(pairs: readonly (readonly [readonly string[], readonly string[]])[]): void {
    const rules: string[] = [];
    for (const [a, b] of pairs) {
      for (const x of a) {
        for (const y of b) rules.push(`    ip saddr ${loopback(x)} ip daddr ${loopback(y)} drop`, `    ip saddr ${loopback(y)} ip daddr ${loopback(x)} drop`);
      }
    }
    if (rules.length > RULES_MAX) throw new Error(`${rules.length} rules, more than ${RULES_MAX}`);
    // "add" then "delete" empties the table whether or not it existed; one atomic transaction.
    const script = [`add table inet ${this.table}`, `delete table inet ${this.table}`, `table inet ${this.table} {`, "  chain output {", "    type filter hook output priority 0; policy accept;", ...rules, "  }", "}", ""];
    execFileSync(this.nft, ["-f", "-"], { input: script.join("\n"), timeout: NFT_TIMEOUT_MS, stdio: ["pipe", "ignore", "pipe"] });
  }

  /** Removes every cut (deletes the table; fine when it is not there). */
  heal(): void {
    execFileSync(this.nft, ["-f", "-"], { input: `add table inet ${this.table}\ndelete table inet ${this.table}\n`, timeout: NFT_TIMEOUT_MS, stdio: ["pipe", "ignore", "pipe"] });
  }
}

function loopback(address: string): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (m === null || m.slice(1).some((o) => Number(o) > 255)) throw new Error(`refusing a rule outside 127.0.0.0/8: ${address}`);
  return address;
}
