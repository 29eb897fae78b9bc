// Argument parsing of the `geolock` command-line tool: pure (argv and environment in, a
// command or a usage error out), so every rule is unit-tested without starting anything.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseDuration } from "./duration.js";

/** Exit codes: the command's own code passes through `run`; these are chosen to be rare in commands. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  /** The lock could not be had: held (try-lock) or the wait ended. */
  notAcquired: 75,
  /** The lock was (or may have been) lost while held. */
  lost: 76,
  /** `run`: the command could not be started. */
  cannotRun: 127,
} as const;

export interface GlobalOptions {
  /** Endpoints from --endpoints or GEOLOCK_ENDPOINTS; undefined means the built-in local topology. */
  readonly endpoints: readonly string[] | undefined;
  readonly region: string | undefined;
  readonly json: boolean;
}

export interface LockOptions {
  readonly name: string;
  readonly waitMs: number;
  readonly ttlMs: number;
  readonly mode: "exclusive" | "shared";
  readonly owner: string | undefined;
}

export type CliCommand =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "acquire"; readonly global: GlobalOptions; readonly lock: LockOptions; readonly holdMs: number | undefined }
  | { readonly kind: "run"; readonly global: GlobalOptions; readonly lock: LockOptions; readonly graceMs: number; readonly command: string; readonly args: readonly string[] }
  | { readonly kind: "release"; readonly global: GlobalOptions; readonly name: string; readonly sessionId: number; readonly clientId: string }
  | { readonly kind: "status"; readonly global: GlobalOptions; readonly name: string }
  | { readonly kind: "watch"; readonly global: GlobalOptions; readonly name: string }
  | { readonly kind: "cluster"; readonly global: GlobalOptions };

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const GLOBAL_HELP = `  --endpoints a,b   node URLs (ws://host:port/client); default $GEOLOCK_ENDPOINTS, else the
                    built-in local topology (region r node n on port 70rn)
  --region NAME     home region: its nodes are tried first
  --json            machine-readable output (one JSON object per line)
  -h, --help        this help`;

const LOCK_HELP = `  --wait DURATION   how long to queue for the lock (default 0s: try once; a global lock is
                    tried again while held until the wait ends)
  --ttl DURATION    session TTL (default 10s; a global lock's own lease, at least 1s): how
                    long after this process dies or hangs the lock is freed; the process
                    itself reports the lock lost before that
  --shared          take a shared (read) lock instead of an exclusive one
  --owner TEXT      a label other clients see in status (default host:pid)`;

export const HELP: Readonly<Record<string, string>> = {
  main: `usage: geolock <command> [options]

commands:
  acquire NAME      take a lock and hold it until Ctrl-C or --hold elapses
  run NAME -- CMD   run CMD while holding the lock; stop it if the lock may be lost
  status NAME       holders, fencing token and waiters of a lock (linearizable)
  watch NAME        print a lock's status, then every grant and release, until Ctrl-C
  release NAME      end the session holding a lock (operators; see geolock release --help)
  cluster           regions, nodes, leaders and replication lag

Lock names are "<region>:<key>", e.g. us-east:orders:42, decided by that region, or
"global:<key>", decided by a majority of regions (NO_QUORUM when the node's region cannot
reach one; exclusive only). Durations: 500ms, 5s, 1.5s, 2m, 1h.
Exit codes: 0 ok, 1 error, 2 usage, 75 lock not acquired, 76 lock lost.
Run "geolock <command> --help" for a command's options.`,
  acquire: `usage: geolock acquire NAME [--wait 5s] [--ttl 10s] [--shared] [--owner X] [--hold DURATION]

Takes the lock, prints its fencing token, and holds it (keeping the session alive) until
Ctrl-C, SIGTERM or --hold elapses; then releases it and exits 0. If the lock may have been
lost meanwhile (the session's lease could not be renewed in time), it says so and exits 76.
If the lock cannot be had within --wait it exits 75 with the reason (HELD, TIMEOUT) on stderr.

${LOCK_HELP}
  --hold DURATION   release and exit after this long (default: until interrupted)
${GLOBAL_HELP}`,
  run: `usage: geolock run NAME [--wait 5s] [--ttl 10s] [--shared] [--owner X] [--grace 5s] -- CMD [ARGS...]

Takes the lock, then runs CMD with GEOLOCK_LOCK_NAME and GEOLOCK_FENCING_TOKEN in its
environment, and releases the lock when CMD exits. Exits with CMD's exit code (128+N if a
signal N ended it). The moment the lock may be lost, CMD gets SIGTERM, then SIGKILL after
--grace, and geolock exits 76. If the lock cannot be had within --wait it exits 75 without
running CMD. Pass GEOLOCK_FENCING_TOKEN to whatever CMD writes to: the token, not the
timing, is what keeps a paused holder from overwriting a newer one.

${LOCK_HELP}
  --grace DURATION  time between SIGTERM and SIGKILL when the lock is lost (default 5s)
${GLOBAL_HELP}`,
  status: `usage: geolock status NAME

Prints the lock's mode, newest fencing token, holders and waiters, read linearizably from
its region's leader. For a global lock: its holder, token and lease as the answering
node's region has applied them (any node answers; not linearizable).

${GLOBAL_HELP}`,
  watch: `usage: geolock watch NAME

Prints the lock's status, then one line per change as its region applies them, in log
order: who acquired it (owner, session, fencing token) and who let it go, and why
(released, session closed, session expired). Runs until Ctrl-C or SIGTERM, then exits 0.
If the connection is lost it watches again through another node of the region and prints
the status afresh (changes in between are in it). A global lock ("global:<key>") is
watched as the connected node's region applies it: its holder's client and region, and
whether it was released or its lease expired.

${GLOBAL_HELP}`,
  release: `usage: geolock release NAME --session ID --client-id ID

A lock belongs to the session that acquired it, and "geolock acquire" and "geolock run"
release their locks themselves when they end. This command is for operators who must free
a lock whose holder is stuck: it ends that holder's whole session (ids as printed by
"geolock acquire --json"), after checking that the session holds NAME. Ending the session,
rather than releasing only NAME, makes the holder's next keep-alive fail, so the holder
itself is told the lock is lost within about a third of its TTL instead of believing it
still holds it. Until then only fencing tokens protect resources from it. Global locks have
no session: their holder releases them, or their lease runs out.

  --session ID      the holder's session id
  --client-id ID    the holder's client id
${GLOBAL_HELP}`,
  cluster: `usage: geolock cluster

Asks a node for the cluster's regions and nodes, then each node's GET /status, and prints
every node's role, term, commit and applied index, lag behind its region's commit, and leader.

${GLOBAL_HELP}`,
};

const GLOBAL_SPEC = {
  endpoints: { type: "string" },
  region: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const LOCK_SPEC = {
  wait: { type: "string" },
  ttl: { type: "string" },
  shared: { type: "boolean" },
  owner: { type: "string" },
} as const;

/** Parses argv (without "node cli.js"); throws UsageError with the message to print. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") return { kind: "help", text: HELP["main"] as string };
  switch (command) {
    case "acquire":
      return parseAcquire(rest, env);
    case "run":
      return parseRun(rest, env);
    case "status":
      return parseStatus(rest, env);
    case "watch":
      return parseWatch(rest, env);
    case "release":
      return parseRelease(rest, env);
    case "cluster":
      return parseCluster(rest, env);
    default:
      throw new UsageError(`unknown command "${command}"\n\n${HELP["main"]}`);
  }
}

type Values = Record<string, string | boolean | undefined>;

function parse(command: string, args: readonly string[], options: NonNullable<ParseArgsConfig["options"]>): { values: Values; positionals: string[] } | "help" {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...args], options: { ...GLOBAL_SPEC, ...options }, strict: true, allowPositionals: true }) as { values: Values; positionals: string[] });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${HELP[command]}`);
  }
  if (values["help"] === true) return "help";
  return { values, positionals };
}

function globalOptions(values: Values, env: Readonly<Record<string, string | undefined>>): GlobalOptions {
  const list = typeof values["endpoints"] === "string" ? values["endpoints"] : env["GEOLOCK_ENDPOINTS"];
  const endpoints = list === undefined || list.trim() === "" ? undefined : list.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const url of endpoints ?? []) {
    if (!/^wss?:\/\/[^/]+\/client$/.test(url)) throw new UsageError(`endpoint "${url}" must look like ws://host:port/client`);
  }
  const region = typeof values["region"] === "string" ? values["region"] : undefined;
  return { endpoints, region, json: values["json"] === true };
}

function oneName(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one lock name, got ${positionals.length}\n\n${HELP[command]}`);
  return positionals[0] as string;
}

function duration(values: Values, field: string, fallbackMs: number): number {
  const text = values[field];
  if (typeof text !== "string") return fallbackMs;
  const ms = parseDuration(text);
  if (ms instanceof Error) throw new UsageError(`--${field}: ${ms.message}`);
  return ms;
}

function lockOptions(command: string, values: Values, positionals: readonly string[]): LockOptions {
  return {
    name: oneName(command, positionals),
    waitMs: duration(values, "wait", 0),
    ttlMs: duration(values, "ttl", 10_000),
    mode: values["shared"] === true ? "shared" : "exclusive",
    owner: typeof values["owner"] === "string" ? values["owner"] : undefined,
  };
}

function parseAcquire(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const p = parse("acquire", args, { ...LOCK_SPEC, hold: { type: "string" } });
  if (p === "help") return { kind: "help", text: HELP["acquire"] as string };
  const holdMs = typeof p.values["hold"] === "string" ? duration(p.values, "hold", 0) : undefined;
  return { kind: "acquire", global: globalOptions(p.values, env), lock: lockOptions("acquire", p.values, p.positionals), holdMs };
}

function parseRun(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const p = parse("run", own, { ...LOCK_SPEC, grace: { type: "string" } });
  if (p === "help") return { kind: "help", text: HELP["run"] as string };
  const [command, ...commandArgs] = split < 0 ? [] : args.slice(split + 1);
  if (command === undefined) throw new UsageError(`run needs a command after "--"\n\n${HELP["run"]}`);
  return { kind: "run", global: globalOptions(p.values, env), lock: lockOptions("run", p.values, p.positionals), graceMs: duration(p.values, "grace", 5_000), command, args: commandArgs };
}

function parseStatus(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const p = parse("status", args, {});
  if (p === "help") return { kind: "help", text: HELP["status"] as string };
  return { kind: "status", global: globalOptions(p.values, env), name: oneName("status", p.positionals) };
}

function parseWatch(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const p = parse("watch", args, {});
  if (p === "help") return { kind: "help", text: HELP["watch"] as string };
  const name = oneName("watch", p.positionals);
  const global = globalOptions(p.values, env);
  // A node serves watches of its own region's locks: without --region, start at the name's.
  const colon = name.indexOf(":");
  const nameRegion = colon > 0 && name.slice(0, colon) !== "global" ? name.slice(0, colon) : undefined;
  return { kind: "watch", global: global.region === undefined && nameRegion !== undefined ? { ...global, region: nameRegion } : global, name };
}

function parseRelease(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const p = parse("release", args, { session: { type: "string" }, "client-id": { type: "string" } });
  if (p === "help") return { kind: "help", text: HELP["release"] as string };
  const name = oneName("release", p.positionals);
  const session = p.values["session"];
  const clientId = p.values["client-id"];
  if (typeof session !== "string" || typeof clientId !== "string") {
    throw new UsageError(`release needs --session and --client-id: a lock can only be released by its session\n\n${HELP["release"]}`);
  }
  const sessionId = Number(session);
  if (!Number.isSafeInteger(sessionId) || sessionId < 1) throw new UsageError(`--session must be a positive integer, got "${session}"`);
  return { kind: "release", global: globalOptions(p.values, env), name, sessionId, clientId };
}

function parseCluster(args: readonly string[], env: Readonly<Record<string, string | undefined>>): CliCommand {
  const p = parse("cluster", args, {});
  if (p === "help") return { kind: "help", text: HELP["cluster"] as string };
  if (p.positionals.length > 0) throw new UsageError(`cluster takes no arguments\n\n${HELP["cluster"]}`);
  return { kind: "cluster", global: globalOptions(p.values, env) };
}
