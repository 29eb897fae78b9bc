// Human output of the CLI (pure, so it is tested without a cluster), and the decoding of a
// node's GET /status, which the `cluster` command reads over HTTP.

import type { ClusterView, GlobalLockStatus, LockStatus } from "./decode.js";
import { formatDuration } from "./duration.js";
import type { GlobalWatchEvent, WatchEvent } from "./lock-watch.js";

export interface NodeHttpStatus {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
}

/** The fields of a node's /status the CLI shows, validated; undefined if it is not one. */
export function decodeNodeHttpStatus(value: unknown): NodeHttpStatus | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const s = value as Record<string, unknown>;
  const count = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (typeof s["role"] !== "string" || !count(s["term"]) || !count(s["commit"]) || !count(s["applied"])) return undefined;
  const leader = s["leader"];
  if (leader !== null && typeof leader !== "string") return undefined;
  return { role: s["role"], term: s["term"], leader, commit: s["commit"], applied: s["applied"] };
}

export interface NodeReport {
  readonly region: string;
  readonly name: string;
  readonly url: string;
  /** undefined: the node did not answer GET /status. */
  readonly status: NodeHttpStatus | undefined;
  /** Entries behind the highest commit index seen in its region; undefined if down. */
  readonly lag: number | undefined;
}

export function nodeReports(view: ClusterView, statuses: ReadonlyMap<string, NodeHttpStatus | undefined>): NodeReport[] {
  return view.regions.flatMap((region) => {
    const commits = region.nodes.map((n) => statuses.get(n.name)?.commit).filter((c): c is number => c !== undefined);
    const top = commits.length === 0 ? undefined : Math.max(...commits);
    return region.nodes.map((n) => {
      const status = statuses.get(n.name);
      const lag = status === undefined || top === undefined ? undefined : Math.max(0, top - status.applied);
      return { region: region.name, name: n.name, url: `http://${n.host}:${n.port}/status`, status, lag };
    });
  });
}

export function formatCluster(reports: readonly NodeReport[]): string {
  const rows = [["REGION", "NODE", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG", "LEADER"]];
  for (const r of reports) {
    const s = r.status;
    rows.push(s === undefined ? [r.region, r.name, "down", "-", "-", "-", "-", "-"] : [r.region, r.name, s.role, String(s.term), String(s.commit), String(s.applied), String(r.lag ?? "-"), s.leader ?? "none"]);
  }
  return table(rows);
}

export function formatStatus(status: LockStatus): string {
  if (status.holders.length === 0 && status.waiters.length === 0) return `${status.name} is free`;
  const lines = [status.mode === null ? `${status.name} is free, with waiters` : `${status.name} held ${status.mode}, newest fencing token ${status.token}`];
  const rows = [["", "SESSION", "TOKEN", "OWNER", "CLIENT", "FOR", "LEFT"]];
  for (const h of status.holders) rows.push(["holder", String(h.sessionId), String(h.token), h.owner, h.clientId, formatDuration(h.heldForMs), "-"]);
  for (const w of status.waiters) rows.push([`waiter ${w.mode}`, String(w.sessionId), "-", w.owner, w.clientId, formatDuration(w.waitedForMs), formatDuration(w.remainingMs)]);
  lines.push(table(rows));
  return lines.join("\n");
}

/** A global lock as the answering node's region has applied it. */
export function formatGlobalStatus(status: GlobalLockStatus): string {
  const view = `(as applied by ${status.region} through instance ${status.applied}; next token ${status.nextToken})`;
  const h = status.holder;
  if (h === null) return `${status.name} is free ${view}`;
  const owner = h.owner === "" ? "(no owner)" : h.owner;
  return `${status.name} held by ${owner}, fencing token ${h.token}, client ${h.clientId} via ${h.region}, lease ${formatDuration(h.ttlMs)} (renewal ${h.leaseVersion}) ${view}`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n");
}

const RELEASE_WORDS = { released: "released", closed: "session closed", expired: "session expired" } as const;

/** One change a watch reports, as a line: "#12 acquired us-east:x by app-1 (session 4, exclusive, token 7)". */
export function formatWatchChange(event: Exclude<WatchEvent, { type: "status" }>): string {
  const who = `${event.owner === "" ? "?" : event.owner} (session ${event.sessionId}, ${event.mode}, token ${event.token})`;
  return event.type === "acquired"
    ? `#${event.index} acquired ${event.name} by ${who}`
    : `#${event.index} ${event.name} freed by ${who}: ${RELEASE_WORDS[event.reason]}`;
}

/** One change a global watch reports: "#5 acquired global:x by app-1 (client gl-a via us-west, token 7)". */
export function formatGlobalWatchChange(event: Exclude<GlobalWatchEvent, { type: "status" }>): string {
  const h = event.holder;
  const who = `${h.owner === "" ? "?" : h.owner} (client ${h.clientId} via ${h.region}, token ${event.token})`;
  return event.type === "acquired" ? `#${event.index} acquired ${event.name} by ${who}` : `#${event.index} ${event.name} freed by ${who}: ${event.reason === "expired" ? "lease expired" : "released"}`;
}
