// The commit rule of the `floor` skeleton (floor-replica.ts): a batch counts once a majority
// of the replicas has it on disk. Kept apart so that the rule is tested on its own.

/** The highest seq that a majority of replicas has on disk, given each replica's highest. */
export function commitIndexOf(durable: readonly number[]): number {
  if (durable.length === 0 || durable.length % 2 === 0) throw new Error(`floor: the replica count must be odd, got ${durable.length}`);
  const sorted = [...durable].sort((a, b) => b - a);
  return sorted[Math.floor(durable.length / 2)] as number;
}
