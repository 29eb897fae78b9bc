// Proves the checkers able to fail: every hand-written fixture (described in
// fixtures/README.md) gets exactly its expected verdict from each checker.

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { casRegisterModel, checkFencing, checkLinearizability, checkMutualExclusion, lockModel, parseHistory, type FencingAnomalyKind, type History } from "@geolock/jepsen-lite";

const dir = fileURLToPath(new URL("./fixtures/", import.meta.url));

interface Expected {
  readonly linearizable: boolean;
  /** Lock histories only. */
  readonly fencing?: readonly FencingAnomalyKind[];
  readonly overlaps?: number;
}

const expected: Readonly<Record<string, Expected>> = {
  "cas-good-concurrent": { linearizable: true },
  "cas-good-info": { linearizable: true },
  "cas-good-failed": { linearizable: true },
  "cas-bad-stale-read": { linearizable: false },
  "cas-bad-lost-write": { linearizable: false },
  "cas-bad-wrong-cas": { linearizable: false },
  "cas-bad-double-cas": { linearizable: false },
  "cas-bad-read-before-info-write": { linearizable: false },
  "lock-good-sequential": { linearizable: true, fencing: [], overlaps: 0 },
  "lock-good-concurrent": { linearizable: true, fencing: [], overlaps: 0 },
  "lock-good-info": { linearizable: true, fencing: [], overlaps: 0 },
  "lock-bad-double-grant": { linearizable: false, fencing: [], overlaps: 1 },
  "lock-bad-token-back": { linearizable: false, fencing: ["token-not-increasing"], overlaps: 0 },
  "lock-bad-stale-status": { linearizable: false, fencing: [], overlaps: 0 },
  "lock-bad-stale-write": { linearizable: true, fencing: ["stale-token-accepted"], overlaps: 0 },
};

function load(name: string): History {
  const parsed = parseHistory(readFileSync(`${dir}${name}.jsonl`, "utf8"));
  if (!parsed.ok) throw new Error(`fixture ${name} does not parse: ${JSON.stringify(parsed.error)}`);
  return parsed.value;
}

describe("fixtures", () => {
  it("has an expected verdict for every fixture file, and a file for every verdict", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".jsonl")).map((f) => f.slice(0, -".jsonl".length)).sort();
    expect(files).toEqual(Object.keys(expected).sort());
  });

  it("names every good fixture -good- and every rejected one -bad-", () => {
    for (const [name, e] of Object.entries(expected)) {
      const rejected = !e.linearizable || (e.fencing?.length ?? 0) > 0 || (e.overlaps ?? 0) > 0;
      expect(name.includes("-bad-"), name).toBe(rejected);
    }
  });

  for (const [name, e] of Object.entries(expected)) {
    it(`${e.linearizable ? "accepts" : "rejects"} ${name} as ${e.linearizable ? "linearizable" : "not linearizable"}`, () => {
      const history = load(name);
      const model = name.startsWith("lock-") ? lockModel : casRegisterModel;
      const report = model === lockModel ? checkLinearizability(history, lockModel) : checkLinearizability(history, casRegisterModel);
      if (!report.ok) throw new Error(JSON.stringify(report.error));
      expect(report.value.linearizable).toBe(e.linearizable);
      const failing = report.value.keys.filter((k) => k.linearizable === false);
      if (!e.linearizable) expect(failing[0]?.counterexample?.blocker).toBeDefined();
    });

    if (e.fencing !== undefined) {
      it(`finds exactly the fencing anomalies [${e.fencing.join(", ")}] and ${e.overlaps ?? 0} overlapping critical sections in ${name}`, () => {
        const history = load(name);
        const fencing = checkFencing(history);
        const exclusion = checkMutualExclusion(history);
        if (!fencing.ok || !exclusion.ok) throw new Error("fixture values do not decode");
        expect(fencing.value.anomalies.map((a) => a.kind)).toEqual(e.fencing);
        expect(exclusion.value.anomalies).toHaveLength(e.overlaps ?? 0);
      });
    }
  }
});
