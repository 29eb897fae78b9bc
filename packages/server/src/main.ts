// `node dist/node.js --region eu-west [--node 2] [--config cluster.json] [--data DIR]`:
// starts one geolock node and runs until SIGTERM or SIGINT, on which it hands over
// leadership and exits. A node that cannot start prints why and exits with a code from
// args.ts EXIT.

import { pino } from "pino";
import { NodeStartError, parseNodeArgs } from "./args.js";
import { MonotonicClock } from "./clock.js";
import { GeolockNode } from "./geolock-node.js";

async function main(): Promise<void> {
  let node: GeolockNode;
  try {
    const options = parseNodeArgs(process.argv.slice(2), process.env);
    let termOf: () => number = () => 0;
    const logger = pino({
      level: options.logLevel,
      base: { region: options.region.name, node: options.self.id },
      mixin: () => ({ term: termOf() }),
    });
    if (options.usingBuiltInTopology && process.env["GEOLOCK_SECRET"] === undefined) {
      logger.warn("using the built-in local topology and its public development secret: for loopback only");
    }
    node = await GeolockNode.start(options, { clock: MonotonicClock.fromEnv(process.env), logger });
    const started = node;
    termOf = () => started.raft.status().term;
    const stop = (signal: string): void => {
      logger.info({ signal }, "stopping");
      void started.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, "error while stopping");
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  } catch (error) {
    if (error instanceof NodeStartError) {
      process.stderr.write(`geolock: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    throw error;
  }
}

void main();
