// The one command that replays a run alone, printed with every failing seed.

export function replayCommand(seed: number, nodes: number, steps: number): string {
  return `npm run sim -- --nodes ${nodes} --seeds 1 --start ${seed} --steps ${steps} --verbose`;
}
