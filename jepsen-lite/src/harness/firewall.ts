// Network partitions between real processes on one machine, made with nftables. Every node
// has its own loopback address and its peer links leave from it, so a cut between nodes A
// and B is a rule `ip saddr A ip daddr B drop` in an output-hook chain of our own table
// (`inet geolock_jepsen`); a symmetric cut has a rule per direction. Healing deletes the
// whole table, so nothing of ours can be left behind by a half-applied change. Clients
// connect from 127.0.0.1, which no rule names: a partition cuts node-to-node traffic only.

import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export const NFT_TABLE = "geolock_jepsen";
const NFT_PATHS = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];
const NFT_TIMEOUT_MS = 5_000;
/** Rules in one table at most: 9 nodes have 72 ordered pairs. */
const CUTS_MAX = 1_024;

/** One direction of traffic to drop: packets from address `from` to address `to`. */
export interface Cut {
  readonly from: string;
  readonly to: string;
}

/** Both directions between every address of `a` and every address of `b`. */
export function cutBetween(a: readonly string[], b: readonly string[]): Cut[] {
  return a.flatMap((x) => b.flatMap((y) => [{ from: x, to: y }, { from: y, to: x }]));
}

/** The nft script that replaces our table by one dropping exactly `cuts` (atomic: one transaction). */
export function nftScript(cuts: readonly Cut[], table = NFT_TABLE): string {
  if (cuts.length > CUTS_MAX) throw new Error(`${cuts.length} cuts, more than ${CUTS_MAX}`);
  for (const c of cuts) {
    if (!isLoopback(c.from) || !isLoopback(c.to)) throw new Error(`refusing a rule outside 127.0.0.0/8: ${c.from} -> ${c.to}`);
  }
  const rules = cuts.map((c) => `    ip saddr ${c.from} ip daddr ${c.to} drop`);
  // "add" then "delete" makes the delete succeed whether or not the table existed.
  return [
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    ...rules,
    "  }",
    "}",
    "",
  ].join("\n");
}

function isLoopback(address: string): boolean {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

export function findNft(): string | undefined {
  return NFT_PATHS.find((p) => existsSync(p));
}

export class Firewall {
  private constructor(
    private readonly nft: string,
    /** Our table; only the firewall self-test uses another one, so it never clashes with a run. */
    readonly table: string,
  ) {
    if (!/^[a-z_]{1,32}$/.test(table)) throw new Error(`bad nft table name ${table}`);
  }

  /**
   * A firewall that works, or why not. A partition nemesis that cannot cut must fail the
   * run, never pretend: a "passing" run without partitions would be a lie.
   */
  static async open(table = NFT_TABLE): Promise<{ ok: true; value: Firewall } | { ok: false; error: string }> {
    const nft = findNft();
    if (nft === undefined) return { ok: false, error: "the partition nemesis needs nft: install the Debian package nftables (apt-get install nftables) and run as root" };
    const fw = new Firewall(nft, table);
    try {
      await fw.apply([]);
      await fw.heal();
    } catch (error) {
      return { ok: false, error: `the partition nemesis cannot use ${nft} (it needs root or CAP_NET_ADMIN): ${(error as Error).message}` };
    }
    return { ok: true, value: fw };
  }

  /** Replaces the current cuts by `cuts`. */
  apply(cuts: readonly Cut[]): Promise<void> {
    return this.run(["-f", "-"], nftScript(cuts, this.table));
  }

  /** Removes every cut of ours (deletes the table; fine if it is not there). */
  heal(): Promise<void> {
    return this.run(["-f", "-"], `add table inet ${this.table}\ndelete table inet ${this.table}\n`);
  }

  /** For process exit handlers, where nothing asynchronous runs any more. */
  healSync(): void {
    try {
      execFileSync(this.nft, ["delete", "table", "inet", this.table], { stdio: "ignore", timeout: NFT_TIMEOUT_MS });
    } catch {
      // Not there: nothing to heal.
    }
  }

  private run(args: readonly string[], stdin: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.nft, [...args], { timeout: NFT_TIMEOUT_MS }, (error, _stdout, stderr) => {
        if (error === null) resolve();
        else reject(new Error(`nft ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      });
      child.stdin?.end(stdin);
    });
  }
}

/** Whether our table exists now (tests check that a run left nothing behind). */
export function tableExists(table = NFT_TABLE): boolean {
  const nft = findNft();
  if (nft === undefined) return false;
  try {
    execFileSync(nft, ["list", "table", "inet", table], { stdio: "ignore", timeout: NFT_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  }
}
