// How fast jepsen-lite checks a large history, the way `npm run check` does it: parse the
// JSON Lines text, then check linearizability key by key (and, for locks, fencing and
// mutual exclusion). The histories are generated from a seeded real execution of the model
// with random real-time overlap and crashes (100,000 operations, 10 concurrent processes,
// 100 keys), so each must come out linearizable; anything else fails the suite rather than
// reporting the speed of a wrong answer. Each repeat regenerates nothing: the same text is
// checked options.repeats times and the median reported. Warm-up and window lengths do not
// apply (a check is one run to completion); one unmeasured check warms the JIT.

import { performance } from "node:perf_hooks";
import {
  casRegisterModel,
  checkFencing,
  checkLinearizability,
  checkMutualExclusion,
  formatHistory,
  generateLockHistory,
  generateRegisterHistory,
  lockModel,
  parseHistory,
  type GenerateOptions,
  type HistoryEvent,
} from "@geolock/jepsen-lite";
import { median } from "../scenario.js";
import type { BenchOptions, BenchSuite, ScenarioResult } from "../suite.js";

const HISTORY: Omit<GenerateOptions, "seed"> = { operations: 100_000, processes: 10, keys: 100, crashPercent: 0.5 };
const SEED = 20_261_126;
/** A check that needs longer than this is a regression worth failing loudly over. */
const TIME_LIMIT_MS = 120_000;

type ModelName = "cas-register" | "lock";

interface CheckTimes {
  readonly parseMs: number;
  readonly checkMs: number;
  readonly operations: number;
  readonly steps: number;
}

/** One full check of the text; throws unless every checker accepts the history. */
function checkOnce(text: string, model: ModelName): CheckTimes {
  const started = performance.now();
  const parsed = parseHistory(text);
  if (!parsed.ok) throw new Error(`checker bench: generated history does not parse: ${JSON.stringify(parsed.error.slice(0, 3))}`);
  const parsedAt = performance.now();
  const options = { timeLimitMs: TIME_LIMIT_MS };
  const report = model === "lock" ? checkLinearizability(parsed.value, lockModel, options) : checkLinearizability(parsed.value, casRegisterModel, options);
  if (!report.ok || report.value.linearizable !== true) {
    throw new Error(`checker bench: generated ${model} history judged ${report.ok ? String(report.value.linearizable) : "malformed"}`);
  }
  if (model === "lock") {
    const fencing = checkFencing(parsed.value);
    const exclusion = checkMutualExclusion(parsed.value);
    if (!fencing.ok || !fencing.value.valid || !exclusion.ok || !exclusion.value.valid) throw new Error("checker bench: generated lock history has fencing or mutual exclusion anomalies");
  }
  const steps = report.value.keys.reduce((sum, key) => sum + key.steps, 0);
  return { parseMs: parsedAt - started, checkMs: performance.now() - parsedAt, operations: parsed.value.operations.length, steps };
}

function measure(options: BenchOptions, model: ModelName): ScenarioResult {
  const generate: (o: GenerateOptions) => HistoryEvent[] = model === "lock" ? generateLockHistory : generateRegisterHistory;
  const text = formatHistory(generate({ ...HISTORY, seed: SEED }));
  checkOnce(text, model);
  const runs: CheckTimes[] = [];
  for (let i = 0; i < Math.max(1, options.repeats); i++) {
    const run = checkOnce(text, model);
    process.stderr.write(`checker ${model}: repeat ${i + 1}: parse ${run.parseMs.toFixed(0)} ms, check ${run.checkMs.toFixed(0)} ms\n`);
    runs.push(run);
  }
  const totalMs = median(runs.map((r) => r.parseMs + r.checkMs));
  const operations = (runs[0] as CheckTimes).operations;
  return {
    scenario: `check ${model} history, ${HISTORY.operations} ops, ${HISTORY.processes} processes, ${HISTORY.keys} keys`,
    system: "jepsen-lite",
    concurrency: HISTORY.processes,
    opsPerSecond: operations / (totalMs / 1000),
    extra: {
      totalMs: Math.round(totalMs),
      parseMs: Math.round(median(runs.map((r) => r.parseMs))),
      checkMs: Math.round(median(runs.map((r) => r.checkMs))),
      operations,
      historyBytes: text.length,
      searchSteps: (runs[0] as CheckTimes).steps,
      seed: SEED,
    },
  };
}

export const suite: BenchSuite = {
  name: "checker",
  description: "jepsen-lite: parse and check a generated 100,000-operation history (cas-register and lock models)",
  run(options: BenchOptions): Promise<ScenarioResult[]> {
    return Promise.resolve([measure(options, "cas-register"), measure(options, "lock")]);
  },
};
