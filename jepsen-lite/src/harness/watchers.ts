// Watchers: the harness process watches every key of a geolock run through the client
// library (one client per region, as a regional lock is watched at a node of its region)
// and records what each watch tells, on the history's clock, for the watch stream checker.
// After a lost connection the library starts the watch again with a fresh status, which
// opens a new epoch; nothing here retries.

import { GeolockClient, type GlobalWatchEvent, type WatchEvent } from "@geolock/client";
import type { WatchRecord } from "../watch-streams.js";
import { REGIONS } from "./cluster.js";

const REQUEST_TIMEOUT_MS = 3_000;
const CLOSE_TIMEOUT_MS = 1_000;
/** A watch that has no status by then is given up (the checker then has nothing of it). */
const START_TIMEOUT_MS = 30_000;

interface Closable {
  close(): Promise<void>;
}

export class Watchers {
  readonly records: WatchRecord[] = [];
  readonly problems: string[] = [];

  private constructor(
    private readonly clients: readonly GeolockClient[],
    private readonly watches: readonly Closable[],
  ) {}

  /** Watches every key; resolves once each watch has its first status. */
  static async start(endpoints: readonly string[], keys: readonly string[], ttlMs: number, now: () => number): Promise<Watchers> {
    // Each client settles on a node of its own region (a watch is served only there).
    const clients = await Promise.all(
      REGIONS.map((region) => GeolockClient.connect({ endpoints, region, ttlMs, requestTimeoutMs: REQUEST_TIMEOUT_MS, closeTimeoutMs: CLOSE_TIMEOUT_MS, owner: `watcher-${region}` })),
    );
    const watches: Closable[] = [];
    const watchers = new Watchers(clients, watches);
    try {
      await Promise.all(
        keys.map(async (key, watcher) => {
          const region = key.slice(0, key.indexOf(":"));
          // A global lock is watched from every region in turn, a regional one in its own.
          const client = clients[region === "global" ? watcher % clients.length : REGIONS.indexOf(region as (typeof REGIONS)[number])];
          if (client === undefined) throw new Error(`no region to watch ${key} from`);
          const record = (event: WatchEvent | GlobalWatchEvent): void => {
            watchers.records.push(toRecord(watcher, key, now(), event));
          };
          const started: Promise<Closable> = region === "global" ? client.watchGlobal(key, record) : client.watch(key, record);
          watches.push(await withTimeout(started, START_TIMEOUT_MS, `watch of ${key} had no status within ${START_TIMEOUT_MS} ms`));
        }),
      );
    } catch (error) {
      await watchers.stop();
      throw error;
    }
    return watchers;
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.close().catch((error: unknown) => this.problems.push(String(error)))));
    await Promise.all(this.clients.map((c) => c.close().catch((error: unknown) => this.problems.push(String(error)))));
  }
}

export function toRecord(watcher: number, key: string, time: number, event: WatchEvent | GlobalWatchEvent): WatchRecord {
  if (event.type === "acquired" || event.type === "released") return { watcher, key, time, type: event.type, index: event.index, token: event.token };
  const status = event.status;
  if ("nextToken" in status) {
    return { watcher, key, time, type: "status", index: event.index, holderToken: status.holder?.token ?? null, floor: status.nextToken - 1 };
  }
  const holderToken = status.holders[0]?.token ?? null;
  return { watcher, key, time, type: "status", index: event.index, holderToken, floor: status.token };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
