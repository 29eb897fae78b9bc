// The checkers' reports for a history given as JSON lines, as the harness makes them before
// it summarizes a run (no watch streams).
import { checkFencing, checkLinearizability, checkMutualExclusion, lockModel, parseHistory, type SummaryChecks } from "@geolock/jepsen-lite";

export function checksOf(text: string): SummaryChecks {
  const parsed = parseHistory(text);
  if (!parsed.ok) throw new Error("the history does not parse");
  const history = parsed.value;
  const linearizability = checkLinearizability(history, lockModel);
  const fencing = checkFencing(history);
  const mutualExclusion = checkMutualExclusion(history);
  if (!linearizability.ok || !fencing.ok || !mutualExclusion.ok) throw new Error("the checkers refused the history");
  return { history, linearizability: linearizability.value, fencing: fencing.value, mutualExclusion: mutualExclusion.value, watchStreams: null };
}
