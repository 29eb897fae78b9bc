// The one command that replays a run alone, printed with every failing seed.

import type { AppKind, Profile } from "./config.js";

export function replayCommand(seed: number, nodes: number, steps: number, profile: Profile = "mixed", app: AppKind = "kv"): string {
  const profileArg = profile === "mixed" ? "" : ` --profile ${profile}`;
  const appArg = app === "kv" ? "" : ` --app ${app}`;
  return `npm run sim -- --nodes ${nodes} --seeds 1 --start ${seed} --steps ${steps}${profileArg}${appArg} --verbose`;
}
