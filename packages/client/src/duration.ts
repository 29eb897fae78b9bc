// Durations as people type them: "500ms", "5s", "1.5s", "2m", "1h". A bare number is
// refused: "--ttl 10" could mean seconds or milliseconds, and guessing wrong by 1000x is
// exactly the kind of TTL surprise users of other lock services complain about.

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
/** Longer than any TTL or wait the server accepts (1 h), short enough to stay exact. */
export const DURATION_MS_MAX = 7 * 24 * 3_600_000;

/** Milliseconds in `text`, or an Error saying why it is not a duration. */
export function parseDuration(text: string): number | Error {
  const match = DURATION.exec(text.trim());
  if (match === null) return new Error(`"${text}" is not a duration (examples: 500ms, 5s, 1.5s, 2m, 1h)`);
  const ms = Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
  if (!Number.isSafeInteger(ms) || ms > DURATION_MS_MAX) return new Error(`"${text}" is longer than ${formatDuration(DURATION_MS_MAX)}`);
  return ms;
}

/** The shortest exact rendering: 1500 -> "1.5s", 120000 -> "2m", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms >= 1_000 && ms % 100 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
