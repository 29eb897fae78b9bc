// The command line of the simulator (see cli.ts), parsed apart so that it can be tested.

import { APP_KINDS, PROFILES } from "./config.js";
import type { AppKind, Profile } from "./config.js";

export interface CliArgs {
  readonly nodes: number;
  readonly seeds: number;
  readonly start: number;
  readonly steps: number;
  readonly profile: Profile;
  readonly app: AppKind;
  readonly verbose: boolean;
}

export const USAGE = `usage: sim [--nodes N] [--seeds COUNT] [--start SEED] [--steps EVENTS] [--profile ${PROFILES.join("|")}] [--app ${APP_KINDS.join("|")}] [--verbose]`;

export function parseArgs(argv: readonly string[]): CliArgs {
  const values: Record<string, number> = { nodes: 3, seeds: 100, start: 1, steps: 5000 };
  let verbose = false;
  let profile: Profile = "mixed";
  let app: AppKind = "kv";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--verbose") {
      verbose = true;
      continue;
    }
    if (arg === "--profile") {
      const value = PROFILES.find((p) => p === argv[i + 1]);
      if (value === undefined) throw new Error(`bad argument --profile ${argv[i + 1] ?? ""}\n${USAGE}`);
      profile = value;
      i += 1;
      continue;
    }
    if (arg === "--app") {
      const value = APP_KINDS.find((a) => a === argv[i + 1]);
      if (value === undefined) throw new Error(`bad argument --app ${argv[i + 1] ?? ""}\n${USAGE}`);
      app = value;
      i += 1;
      continue;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : "";
    const value = Number(argv[i + 1]);
    if (!Object.hasOwn(values, name) || !Number.isSafeInteger(value) || value < 0) throw new Error(`bad argument ${arg} ${argv[i + 1] ?? ""}\n${USAGE}`);
    values[name] = value;
    i += 1;
  }
  const args = { nodes: values.nodes as number, seeds: values.seeds as number, start: values.start as number, steps: values.steps as number, profile, app, verbose };
  if (args.nodes < 1 || args.nodes > 9) throw new Error(`--nodes must be 1..9\n${USAGE}`);
  return args;
}

