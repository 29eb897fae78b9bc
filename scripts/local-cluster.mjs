// `npm start`: the whole built-in local topology (3 regions x 3 nodes on 127.0.0.1) as nine
// real node processes. Prints where each node listens, waits until every region reports
// ready, and stops everything on Ctrl-C (SIGTERM, then SIGKILL after a deadline).
//
// Usage: node scripts/local-cluster.mjs [--data DIR] [--fresh] [--regions us-east,us-west]
//                                      [--wan realistic | --wan us-east:eu-west=40,...]
// (`npm start -- --wan realistic` emulates WAN latency between the regions.)
import { spawn } from "node:child_process";
import { mkdirSync, openSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const REGIONS = ["us-east", "us-west", "eu-west"];
const READY_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 5_000;

const { values } = parseArgs({
  options: {
    data: { type: "string", default: join(root, "data") },
    fresh: { type: "boolean", default: false },
    regions: { type: "string", default: REGIONS.join(",") },
    wan: { type: "string" },
  },
});
const dataRoot = resolve(values.data);
const regions = values.regions.split(",").filter((r) => REGIONS.includes(r));
if (values.fresh) rmSync(dataRoot, { recursive: true, force: true });
mkdirSync(join(dataRoot, "logs"), { recursive: true });

const nodes = [];
for (const region of regions) {
  const r = REGIONS.indexOf(region) + 1;
  for (const n of [1, 2, 3]) {
    const port = 7000 + 10 * r + n;
    const log = join(dataRoot, "logs", `${region}-${n}.log`);
    const out = openSync(log, "a");
    const child = spawn(
      process.execPath,
      [
        join(root, "dist/node.js"),
        ...["--region", region, "--node", String(n), "--data", join(dataRoot, `${region}-${n}`)],
        ...(values.wan === undefined ? [] : ["--wan", values.wan]),
      ],
      { stdio: ["ignore", out, out] },
    );
    nodes.push({ region, n, port, log, child, exited: false });
    child.on("exit", (code, signal) => {
      const node = nodes.find((x) => x.child === child);
      node.exited = true;
      if (!stopping) console.log(`${region}/${n} exited (${signal ?? code}); see ${log}`);
    });
  }
}

console.log(`geolock local cluster${values.wan === undefined ? "" : ` (WAN emulation: ${values.wan})`}`);
for (const { region, n, port, log } of nodes) {
  console.log(`  ${`${region}/${n}`.padEnd(10)} ws://127.0.0.1:${port}  http://127.0.0.1:${port}/status  log ${log}`);
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  console.log("stopping...");
  for (const node of nodes) if (!node.exited) node.child.kill("SIGTERM");
  const deadline = Date.now() + STOP_DEADLINE_MS;
  while (Date.now() < deadline && nodes.some((x) => !x.exited)) await sleep(100);
  for (const node of nodes) if (!node.exited) node.child.kill("SIGKILL");
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

const deadline = Date.now() + READY_DEADLINE_MS;
const pending = new Set(regions);
while (pending.size > 0 && Date.now() < deadline && !stopping) {
  for (const region of [...pending]) {
    const ports = nodes.filter((x) => x.region === region).map((x) => x.port);
    const answers = await Promise.all(ports.map((port) => isReady(port)));
    if (answers.every(Boolean)) {
      pending.delete(region);
      console.log(`  ${region} ready`);
    }
  }
  if (pending.size > 0) await sleep(250);
}
if (pending.size > 0) console.log(`not ready after ${READY_DEADLINE_MS / 1000} s: ${[...pending].join(", ")} (see the logs)`);
else console.log("all regions ready. Ctrl-C stops the cluster.");

async function isReady(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
