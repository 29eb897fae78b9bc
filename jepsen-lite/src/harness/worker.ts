// A client worker: its own process, so the harness can SIGSTOP it while it holds a lock
// (the pause that broke etcd's locks in Jepsen's test). It runs lock cycles and status
// reads through an adapter, stamps every invoke and completion on the machine-wide
// monotonic clock, and writes to the guarded resource (in the harness) while it holds.
//
// A write is decided (lease checked, deadline sampled), then spends a moment "in flight"
// before it reaches the resource, as a request on a network would: a pause that lands
// there delivers it late, after the lease, which is exactly the write fencing must stop.

import { SeededRng } from "../simulation.js";
import { connectGeolock, connectUnsafe, errorCode, isDefinite, type HeldLock, type LockAdapter } from "./adapters.js";
import { clockNs, decodeFromWorker, type Completion, type FromWorker, type ToWorker, type WorkerConfig } from "./protocol.js";
import type { JsonValue } from "../json.js";

const CONNECT_ATTEMPTS_MAX = 200;
const CONNECT_BACKOFF_MS = 250;
const WRITE_ANSWER_TIMEOUT_MS = 10_000;
const STATUS_PERCENT = 20;
const WAIT_CHOICES_MS = [0, 0, 300, 1000];
/** Lease left over, beyond a write's flight, for the write to be worth sending. */
const WRITE_MARGIN_MS = 100;

let config: WorkerConfig | undefined;
let origin = 0n;
let stopping = false;
let nextWriteId = 1;
const writeAnswers = new Map<number, (accepted: boolean) => void>();

function now(): number {
  return clockNs(origin);
}

function send(message: FromWorker): void {
  // Checked against the decoder the harness uses, so a bug here shows up here.
  if (decodeFromWorker(JSON.parse(JSON.stringify(message))) === null) throw new Error(`worker would send an invalid message ${JSON.stringify(message)}`);
  process.send?.(message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

process.on("message", (raw: ToWorker) => {
  if (raw.t === "start" && config === undefined) {
    config = raw.config;
    origin = BigInt(raw.config.originNs);
    void run(raw.config).then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`worker ${raw.config.index} failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
  } else if (raw.t === "write-result") {
    writeAnswers.get(raw.id)?.(raw.accepted);
    writeAnswers.delete(raw.id);
  } else if (raw.t === "stop") {
    stopping = true;
  }
});
// The harness going away ends the worker too: nothing outlives the run.
process.on("disconnect", () => process.exit(0));

async function run(c: WorkerConfig): Promise<void> {
  const rng = new SeededRng(c.seed * 1000 + c.index);
  let adapter = await connect(c);
  for (let turn = 0; turn < 1_000_000 && !stopping && adapter !== undefined; turn++) {
    const key = c.keys[rng.int(c.keys.length)] as string;
    // A global key's status is its region's applied view, not a linearizable read: the lock
    // model would flag every stale view, so global keys get no status reads.
    const readable = !key.startsWith("global:");
    const healthy = readable && rng.chance(STATUS_PERCENT) ? await statusOp(adapter, key) : await lockCycle(adapter, key, rng);
    if (!healthy) {
      // An unknown outcome may leave a grant or a session behind: start over with a new client.
      await adapter.close().catch(() => undefined);
      adapter = await connect(c);
    }
    await sleep(10 + rng.int(50));
  }
  await adapter?.close().catch(() => undefined);
  send({ t: "done" });
}

async function connect(c: WorkerConfig): Promise<LockAdapter | undefined> {
  const settings = { endpoints: c.endpoints, region: c.region, ttlMs: c.ttlMs, owner: `worker-${c.index}` };
  for (let attempt = 0; attempt < CONNECT_ATTEMPTS_MAX && !stopping; attempt++) {
    try {
      return c.target === "geolock" ? await connectGeolock(settings) : await connectUnsafe(settings);
    } catch (error) {
      process.stderr.write(`worker ${c.index}: connect failed (${errorCode(error)}), retrying\n`);
      await sleep(CONNECT_BACKOFF_MS);
    }
  }
  return undefined;
}

function complete(type: Completion, f: string, key: string, value: JsonValue, error: string | null): void {
  send({ t: "complete", type, f, key, value, error, time: now() });
}

/** A status read; reads never change state, so a failed one is a fail, not an info. */
async function statusOp(adapter: LockAdapter, key: string): Promise<boolean> {
  send({ t: "invoke", f: "status", key, value: null, time: now(), validUntil: null });
  try {
    const s = await adapter.status(key);
    complete("ok", "status", key, { holder: s.holder, token: s.token }, null);
  } catch (error) {
    complete("fail", "status", key, null, errorCode(error));
  }
  return true;
}

/** acquire, a few fenced writes, release. Returns false when the client should be replaced. */
async function lockCycle(adapter: LockAdapter, key: string, rng: SeededRng): Promise<boolean> {
  const waitMs = WAIT_CHOICES_MS[rng.int(WAIT_CHOICES_MS.length)] as number;
  const invokedAt = now();
  send({ t: "invoke", f: "acquire", key, value: { waitMs }, time: invokedAt, validUntil: null });
  let held: HeldLock;
  try {
    held = await adapter.acquire(key, waitMs);
  } catch (error) {
    const code = errorCode(error);
    if (isDefinite(error, waitMs)) {
      complete("fail", "acquire", key, null, code);
      return true;
    }
    complete("info", "acquire", key, null, code);
    // Since the invoke, not just from now: within the call the client library may have
    // closed a session it believed lost, freeing a grant this acquire never reported.
    send({ t: "maybe-held", lock: key, session: adapter.sessionFor(key), time: invokedAt });
    return false;
  }
  complete("ok", "acquire", key, { token: held.token, session: held.session }, null);
  // The client's first session may have been granted the lock during the call, and lost it.
  if (held.sessionReplaced) send({ t: "maybe-granted", lock: key, session: held.session, time: invokedAt });
  return hold(key, held, rng);
}

async function hold(key: string, held: HeldLock, rng: SeededRng): Promise<boolean> {
  let phase: "holding" | "lost" | "releasing" = "holding";
  let validUntil: number | null = null;
  const onLost = (): void => {
    if (phase !== "holding") return;
    phase = "lost";
    send({ t: "lost", lock: key, session: held.session, token: held.token, validUntil, time: now() });
  };
  held.lost?.addEventListener("abort", onLost, { once: true });
  /** Samples the lease's end as the client knows it; false unless it holds for `needMs` more. */
  const sample = (needMs: number): boolean => {
    const remaining = held.remainingMs();
    if (remaining !== null && (remaining <= needMs || held.lost?.aborted === true)) return false;
    validUntil = remaining === null ? null : now() + Math.floor(remaining * 1e6);
    return true;
  };
  const writes = 1 + rng.int(3);
  for (let i = 0; i < writes && phase === "holding"; i++) {
    const flightMs = 50 + rng.int(100);
    // A careful client writes only if its lease outlasts the write: only a pause (or a
    // stall as long) can then make the write arrive late.
    if (!sample(flightMs + WRITE_MARGIN_MS)) break;
    const decided = validUntil;
    await sleep(flightMs);
    await write(key, held.token, decided);
  }
  if (phase !== "holding") return true;
  if (!sample(0)) {
    onLost();
    return true;
  }
  phase = "releasing";
  send({ t: "invoke", f: "release", key, value: { token: held.token, session: held.session }, time: now(), validUntil });
  try {
    await held.release();
    complete("ok", "release", key, null, null);
    return true;
  } catch (error) {
    const code = errorCode(error);
    complete("info", "release", key, null, code);
    // LOCK_LOST: the session is gone anyway. Anything else: it may still hold the lock.
    return code === "LOCK_LOST";
  }
}

function write(lock: string, token: number, validUntil: number | null): Promise<boolean> {
  const id = nextWriteId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      writeAnswers.delete(id);
      resolve(false);
    }, WRITE_ANSWER_TIMEOUT_MS);
    writeAnswers.set(id, (accepted) => {
      clearTimeout(timer);
      resolve(accepted);
    });
    send({ t: "write", id, lock, token, validUntil });
  });
}

