// Fails the build when a deterministic core reaches for I/O, a clock, randomness, timers or
// the process. Usage: node scripts/check-purity.mjs [DIR...]  (default: the pure cores)
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findViolations } from "./purity.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const PURE_CORES = ["packages/raft/src", "packages/paxos/src", "packages/locks/src"];

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (name.endsWith(".ts")) yield path;
  }
}

const dirs = process.argv.length > 2 ? process.argv.slice(2) : PURE_CORES.map((d) => join(root, d)).filter(existsSync);
const violations = [];
let files = 0;
for (const dir of dirs) {
  for (const file of sourceFiles(dir)) {
    files += 1;
    violations.push(...findViolations(file, readFileSync(file, "utf8")));
  }
}
if (violations.length > 0) {
  console.error(`purity check: ${violations.length} violation(s) in the deterministic cores:`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log(`purity check: ${files} files in ${dirs.length} core(s), no I/O, clock, randomness or timers`);
