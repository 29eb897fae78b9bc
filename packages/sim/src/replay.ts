// The one command that replays a run alone, printed with every failing seed.

import type { Profile } from "./config.js";

export function replayCommand(seed: number, nodes: number, steps: number, profile: Profile = "mixed"): string {
  const profileArg = profile === "mixed" ? "" : ` --profile ${profile}`;
  return `npm run sim -- --nodes ${nodes} --seeds 1 --start ${seed} --steps ${steps}${profileArg} --verbose`;
}
