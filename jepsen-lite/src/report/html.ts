// report.html: one self-contained page (inline CSS, SVG and a little JS; nothing fetched)
// that says at the top whether the run was valid, then shows why: a timeline with one lane
// per history process and nemesis windows shaded, the counterexample of any key that is
// not linearizable (longest partial linearization and the operation that could not be
// placed), fencing and mutual exclusion anomalies, and latency and availability over time.

import { describeOperation, type Operation } from "../history.js";
import type { KeyResult } from "../linearizability.js";
import type { NemesisEvent } from "../harness/nemesis.js";
import { describeCrash, type RunSummary, type SummaryChecks } from "../harness/summary.js";
import { esc, fmt, scale, ticks } from "./svg.js";

export interface ReportInput {
  readonly summary: RunSummary;
  readonly checks: SummaryChecks;
  readonly nemesis: readonly NemesisEvent[];
}

/** Bounds that keep the page usable whatever the run's size. */
const LANES_MAX = 400;
const BARS_MAX = 30_000;
const POINTS_MAX = 20_000;
const LONGEST_SHOWN_MAX = 40;
const ANOMALIES_SHOWN_MAX = 50;
const WIDTH = 1200;
const LEFT = 70;
const LANE_H = 12;

interface Window {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

interface Frame {
  /** Nanosecond time of the first event. */
  readonly t0: number;
  readonly t1: number;
  readonly x: (ns: number) => number;
  readonly windows: readonly Window[];
}

export function renderReport(input: ReportInput): string {
  const { summary, checks } = input;
  const events = checks.history.events;
  const t0 = events[0]?.time ?? 0;
  const t1 = Math.max(t0 + 1, events[events.length - 1]?.time ?? 0);
  const frame: Frame = { t0, t1, x: scale(t0, t1, LEFT, WIDTH - 10), windows: nemesisWindows(input.nemesis, t1) };
  const flagged = flaggedOps(checks);
  const body = [
    header(summary),
    checkerSection(summary, checks),
    counterexamples(checks.linearizability.keys),
    anomalies(checks),
    timeline(checks.history.operations, frame, flagged),
    latency(checks.history.operations, frame),
    availability(checks.history.operations, frame),
    nemesisTable(input.nemesis, t0),
  ].join("\n");
  return page(`geolock jepsen-lite: ${summary.verdict} (seed ${summary.options.seed})`, body);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>${CSS}</style></head>
<body>${body}
<div id="tip" class="tip" hidden></div>
<script>${JS}</script>
</body></html>
`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222;max-width:1260px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:700;letter-spacing:.5px}
.valid{background:#2e9d4f}.invalid{background:#c62828}.unknown{background:#9e7c16}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
code,.mono{font-family:ui-monospace,monospace;font-size:12px}
.ok{fill:#2e9d4f}.fail{fill:#e08a1e}.none{fill:#c62828}.info{fill:#8a63d2}.flag{stroke:#c62828;stroke-width:2}
.nem{fill:#ffcdd2;opacity:.45}.nemlabel{font-size:10px;fill:#b71c1c}.axis{font-size:10px;fill:#555}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
.tip{position:fixed;background:#222;color:#fff;padding:4px 8px;border-radius:3px;font:12px ui-monospace,monospace;pointer-events:none;max-width:700px}
.lanelabel{font-size:9px;fill:#555}`;

const JS = `(function(){var tip=document.getElementById('tip');
document.querySelectorAll('[data-tip]').forEach(function(el){
el.addEventListener('mousemove',function(e){tip.hidden=false;tip.textContent=el.getAttribute('data-tip');tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
el.addEventListener('mouseleave',function(){tip.hidden=true;});});})();`;

function header(s: RunSummary): string {
  const o = s.options;
  const rows: [string, string][] = [
    ["target", o.target],
    ["workload", `${o.workload}, ${s.keys.total} keys, ${o.concurrency} clients, ${o.timeS} s, TTL ${o.ttlMs} ms`],
    ["nemesis", `${o.nemeses.join(", ") || "none"}; faults applied: ${Object.entries(s.faults).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`],
    ["seed", String(o.seed)],
    ["operations", `${s.operations} in ${s.processes} processes; ${Object.entries(s.outcomes).map(([f, c]) => `${f} ${c.ok}/${c.fail}/${c.info}`).join(", ")} (ok/fail/info)`],
    ["late writes", `${s.lateWrites.rejected} rejected, ${s.lateWrites.accepted} accepted (writes that arrived after the writer's lease may have ended)`],
    ["not supported yet", `${s.notSupportedYet} operations answered NOT_SUPPORTED_YET (global locks; not an anomaly)`],
    ["errors", Object.entries(s.errors).map(([c, n]) => `${c} ${n}`).join(", ") || "none"],
    ["node crashes", s.crashes.map(describeCrash).join("; ") || "none"],
  ];
  const table = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  const interrupted = s.interrupted ? ' <span class="verdict unknown">INTERRUPTED</span>' : "";
  return `<h1>geolock jepsen-lite run</h1>
<div id="verdict" data-verdict="${s.verdict}"><span class="verdict ${s.verdict}">${s.verdict.toUpperCase()}</span>${interrupted} linearizable: <b>${esc(String(s.linearizable))}</b>; fencing anomalies: <b>${s.fencingAnomalies}</b>; mutual exclusion anomalies: <b>${s.mutualExclusionAnomalies}</b>${s.watch === null ? "" : `; watch stream anomalies: <b>${s.watch.anomalies}</b>`}; node crashes: <b>${s.crashes.length}</b></div>
<table>${table}</table>`;
}

function checkerSection(s: RunSummary, checks: SummaryChecks): string {
  const rows = checks.linearizability.keys
    .map((k) => `<tr><td class="mono">${esc(k.key)}</td><td>${esc(String(k.linearizable))}${k.stop === undefined ? "" : ` (${esc(k.stop)})`}</td><td>${k.operations}</td><td>${k.steps}</td></tr>`)
    .join("");
  const f = checks.fencing;
  const m = checks.mutualExclusion;
  return `<h2>Checkers</h2>
<p>Linearizability (lock model, per key; checked in ${s.checkMs} ms):</p>
<table><tr><th>key</th><th>linearizable</th><th>operations</th><th>search steps</th></tr>${rows}</table>
<p>Fencing: ${f.valid ? "ok" : `${f.anomalies.length} anomalies`} (${f.grants} grants, ${f.writes} accepted writes). Mutual exclusion: ${m.valid ? "ok" : `${m.anomalies.length} anomalies`} (${m.sections} critical sections).</p>${watchLine(checks)}`;
}

function watchLine(checks: SummaryChecks): string {
  const w = checks.watchStreams;
  if (w === null) return "";
  return `<p>Watch streams: ${w.valid ? "ok" : `${w.anomalies.length}${w.truncated ? "+" : ""} anomalies`} (${w.watchers} watchers, ${w.epochs} statuses, ${w.changes} grants and releases told).</p>`;
}

function counterexamples(keys: readonly KeyResult[]): string {
  const bad = keys.filter((k) => k.counterexample !== undefined);
  if (bad.length === 0) return "";
  const parts = bad.map((k) => {
    const c = k.counterexample;
    if (c === undefined) return "";
    const shown = c.longest.slice(-LONGEST_SHOWN_MAX);
    const list = shown.map((op) => `<li class="mono">${esc(describeOperation(op))}</li>`).join("");
    const candidates = c.candidates.map((op) => `<li class="mono">${esc(describeOperation(op))}</li>`).join("");
    return `<h3 class="mono">${esc(k.key)}</h3>
<p><b>Could not place:</b> <span class="mono" id="blocker">${esc(describeOperation(c.blocker))}</span></p>
<p>Longest partial linearization: ${c.longest.length} of ${k.operations} operations${shown.length < c.longest.length ? `, the last ${shown.length}` : ""}:</p><ol class="longest" start="${c.longest.length - shown.length + 1}">${list}</ol>
<p>State after it: <span class="mono">${esc(c.stateAfter)}</span></p><p>None of these could go next:</p><ul>${candidates}</ul>`;
  });
  return `<h2>Not linearizable</h2>${parts.join("")}`;
}

function anomalies(checks: SummaryChecks): string {
  const f = checks.fencing.anomalies.slice(0, ANOMALIES_SHOWN_MAX).map((a) => `<li class="mono">${esc(a.kind)} on ${esc(a.key)}: token ${a.token} in ${esc(describeOperation(a.op))}, after token ${a.earlierToken} in ${esc(describeOperation(a.earlier))}</li>`);
  const m = checks.mutualExclusion.anomalies
    .slice(0, ANOMALIES_SHOWN_MAX)
    .map((a) => `<li class="mono">${esc(a.key)} held at once: process ${a.first.process} (from ${esc(describeOperation(a.first.acquire))}) and process ${a.second.process} (from ${esc(describeOperation(a.second.acquire))})</li>`);
  const w = (checks.watchStreams?.anomalies ?? []).slice(0, ANOMALIES_SHOWN_MAX).map((a) => `<li class="mono">${esc(a.kind)} on ${esc(a.key)} (watcher ${a.watcher}, index ${a.index ?? "-"}): ${esc(a.message)}</li>`);
  if (f.length === 0 && m.length === 0 && w.length === 0) return "";
  return `<h2>Anomalies</h2>${f.length > 0 ? `<p>Fencing:</p><ul>${f.join("")}</ul>` : ""}${m.length > 0 ? `<p>Mutual exclusion:</p><ul>${m.join("")}</ul>` : ""}${w.length > 0 ? `<p>Watch streams:</p><ul>${w.join("")}</ul>` : ""}`;
}

/** Operations named by a counterexample or an anomaly: outlined in red on the timeline. */
function flaggedOps(checks: SummaryChecks): Set<number> {
  const ids = new Set<number>();
  for (const k of checks.linearizability.keys) if (k.counterexample !== undefined) ids.add(k.counterexample.blocker.id);
  for (const a of checks.fencing.anomalies) ids.add(a.op.id).add(a.earlier.id);
  for (const a of checks.mutualExclusion.anomalies) ids.add(a.first.acquire.id).add(a.second.acquire.id);
  return ids;
}

function nemesisWindows(events: readonly NemesisEvent[], t1: number): Window[] {
  const open = new Map<string, NemesisEvent>();
  const windows: Window[] = [];
  for (const e of events) {
    const id = `${e.kind}/${e.variant}/${e.targets.join(",")}`;
    if (e.type === "start") open.set(id, e);
    else {
      const s = open.get(id);
      open.delete(id);
      if (s !== undefined) windows.push({ start: s.time, end: e.time, label: `${e.variant} ${e.targets.join(",")}` });
    }
  }
  for (const s of open.values()) windows.push({ start: s.time, end: t1, label: `${s.variant} ${s.targets.join(",")}` });
  return windows;
}

function shading(frame: Frame, top: number, height: number): string {
  return frame.windows
    .map((w) => {
      const x = frame.x(Math.max(w.start, frame.t0));
      const width = Math.max(1, frame.x(Math.min(w.end, frame.t1)) - x);
      // The variant alone fits above the window; the targets are in the tip and the table.
      return `<rect class="nem" x="${fmt(x)}" y="${top}" width="${fmt(width)}" height="${height}" data-tip="${esc(w.label)}"></rect><text class="nemlabel" x="${fmt(x + 2)}" y="${top + 10}">${esc(w.label.split(" ")[0] ?? "")}</text>`;
    })
    .join("");
}

function timeAxis(frame: Frame, y: number): string {
  const seconds = ticks(0, (frame.t1 - frame.t0) / 1e9, 12);
  return seconds.map((s) => `<text class="axis" x="${fmt(frame.x(frame.t0 + s * 1e9))}" y="${y}">${fmt(s, 0)}s</text>`).join("");
}

function timeline(ops: readonly Operation[], frame: Frame, flagged: Set<number>): string {
  const processes = [...new Set(ops.map((op) => op.process))].sort((a, b) => a - b);
  const lanes = processes.slice(0, LANES_MAX);
  const laneOf = new Map(lanes.map((p, i) => [p, i]));
  const top = 16;
  const height = top + lanes.length * LANE_H + 20;
  const bars: string[] = [];
  for (const op of ops) {
    if (bars.length >= BARS_MAX) break;
    const lane = laneOf.get(op.process);
    if (lane === undefined) continue;
    const x = frame.x(op.invokeTime);
    const end = op.completeTime ?? frame.t1;
    const width = Math.max(1.5, frame.x(end) - x);
    const cls = `${op.outcome}${flagged.has(op.id) ? " flag" : ""}`;
    bars.push(`<rect class="${cls}" data-op="${op.id}" x="${fmt(x)}" y="${top + lane * LANE_H + 2}" width="${fmt(width)}" height="${LANE_H - 4}" data-tip="${esc(describeOperation(op))}"></rect>`);
  }
  const labels = lanes.map((p, i) => `<g class="lane" data-process="${p}"><text class="lanelabel" x="4" y="${top + i * LANE_H + 10}">p${p}</text></g>`).join("");
  const more = processes.length > lanes.length || bars.length >= BARS_MAX ? `<p>Showing ${lanes.length} of ${processes.length} processes and ${bars.length} of ${ops.length} operations.</p>` : "";
  return `<h2>Timeline</h2>
<p class="legend"><span><i class="sw" style="background:#2e9d4f"></i>ok</span><span><i class="sw" style="background:#e08a1e"></i>fail</span><span><i class="sw" style="background:#8a63d2"></i>info (unknown)</span><span><i class="sw" style="background:#ffcdd2"></i>nemesis</span><span><i class="sw" style="border:2px solid #c62828"></i>named by a checker</span> One lane per history process; hover for details.</p>${more}
<svg id="timeline" width="${WIDTH}" height="${height}">${shading(frame, top, lanes.length * LANE_H)}${labels}${bars.join("")}${timeAxis(frame, height - 4)}</svg>`;
}

function latency(ops: readonly Operation[], frame: Frame): string {
  const done = ops.filter((op) => op.completeTime !== null && op.f !== "write").slice(0, POINTS_MAX);
  const ms = (op: Operation): number => ((op.completeTime as number) - op.invokeTime) / 1e6;
  const max = Math.max(1, ...done.map(ms));
  const h = 220;
  const y = scale(0, max, h - 20, 10);
  const points = done.map((op) => `<circle class="${op.outcome}" cx="${fmt(frame.x(op.invokeTime))}" cy="${fmt(y(ms(op)))}" r="1.8" data-tip="${esc(`${fmt(ms(op))} ms: ${describeOperation(op)}`)}"></circle>`);
  const yTicks = ticks(0, max, 5).map((v) => `<text class="axis" x="4" y="${fmt(y(v) + 3)}">${fmt(v, 0)} ms</text>`).join("");
  return `<h2>Latency over time</h2><p>Each acquire, release and status by its invoke time; colour is its outcome.</p>
<svg id="latency" width="${WIDTH}" height="${h}">${shading(frame, 0, h - 16)}${yTicks}${points.join("")}${timeAxis(frame, h - 4)}</svg>`;
}

/** Per second: the share of completed operations the service answered (ok, or a definite refusal). */
function availability(ops: readonly Operation[], frame: Frame): string {
  const buckets = Math.max(1, Math.ceil((frame.t1 - frame.t0) / 1e9));
  const answered = new Array<number>(buckets).fill(0);
  const total = new Array<number>(buckets).fill(0);
  for (const op of ops) {
    if (op.f === "write" || op.error === "NOT_SUPPORTED_YET" || op.completeTime === null) continue;
    const b = Math.min(buckets - 1, Math.floor((op.completeTime - frame.t0) / 1e9));
    total[b] = (total[b] ?? 0) + 1;
    if (op.outcome === "ok" || op.error === "HELD") answered[b] = (answered[b] ?? 0) + 1;
  }
  const h = 160;
  const y = scale(0, 1, h - 20, 10);
  const bars = total.map((n, b) => {
    const share = n === 0 ? 0 : (answered[b] ?? 0) / n;
    const x = frame.x(frame.t0 + b * 1e9);
    const w = Math.max(1, frame.x(frame.t0 + (b + 1) * 1e9) - x - 1);
    // A second in which nothing completed is the worst kind: everything waited.
    if (n === 0) return `<rect class="none" x="${fmt(x)}" y="${fmt(y(0) - 3)}" width="${fmt(w)}" height="3" data-tip="${esc(`second ${b}: nothing completed`)}"></rect>`;
    return `<rect class="ok" x="${fmt(x)}" y="${fmt(y(share))}" width="${fmt(w)}" height="${fmt(y(0) - y(share))}" data-tip="${esc(`second ${b}: ${answered[b] ?? 0} of ${n} answered`)}"></rect>`;
  });
  return `<h2>Availability over time</h2><p>Share of operations completed each second that got an answer (ok, or HELD for a lock already taken); a red mark: nothing completed that second. NOT_SUPPORTED_YET and writes are left out.</p>
<svg id="availability" width="${WIDTH}" height="${h}">${shading(frame, 0, h - 16)}<text class="axis" x="4" y="${fmt(y(1) + 3)}">100%</text><text class="axis" x="4" y="${fmt(y(0))}">0%</text>${bars.join("")}${timeAxis(frame, h - 4)}</svg>`;
}

function nemesisTable(events: readonly NemesisEvent[], t0: number): string {
  if (events.length === 0) return "<h2>Nemesis</h2><p>No faults.</p>";
  const rows = events.map((e) => `<tr><td>${fmt((e.time - t0) / 1e9, 2)} s</td><td>${e.type}</td><td>${esc(e.kind)}</td><td>${esc(e.variant)}</td><td>${esc(e.targets.join(", "))}</td><td>${esc(e.detail)}</td></tr>`);
  return `<h2>Nemesis</h2><table><tr><th>time</th><th></th><th>kind</th><th>variant</th><th>targets</th><th>detail</th></tr>${rows.join("")}</table>`;
}
