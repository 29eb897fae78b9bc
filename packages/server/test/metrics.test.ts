// The Prometheus text the node serves at /metrics: families with HELP and TYPE, labels
// escaped, counters kept by the node exposed as counters, cumulative histogram buckets.
import { describe, expect, it } from "vitest";
import { MetricsRegistry } from "../src/metrics.js";

describe("the metrics registry", () => {
  it("renders gauges and node-kept counters read at scrape time, with escaped labels", () => {
    const m = new MetricsRegistry();
    let term = 3;
    m.gauge("geolock_raft_term", "Current Raft term", () => [[{ region: 'us-"east"' }, term]]);
    m.counterOf("geolock_client_requests_total", "Client requests received", () => [[{}, 42]]);
    term = 4;
    expect(m.render()).toBe(
      [
        "# HELP geolock_raft_term Current Raft term",
        "# TYPE geolock_raft_term gauge",
        'geolock_raft_term{region="us-\\"east\\""} 4',
        "# HELP geolock_client_requests_total Client requests received",
        "# TYPE geolock_client_requests_total counter",
        "geolock_client_requests_total 42",
        "",
      ].join("\n"),
    );
  });

  it("keeps histogram buckets cumulative, with sum and count", () => {
    const m = new MetricsRegistry();
    const h = m.histogram("geolock_commit_seconds", "Commit latency", [0.001, 0.01]);
    for (const v of [0.0005, 0.002, 0.002, 5]) h.observe(v);
    const text = m.render();
    expect(text).toContain('geolock_commit_seconds_bucket{le="0.001"} 1');
    expect(text).toContain('geolock_commit_seconds_bucket{le="0.01"} 3');
    expect(text).toContain('geolock_commit_seconds_bucket{le="+Inf"} 4');
    expect(text).toContain("geolock_commit_seconds_count 4");
    const sum = /^geolock_commit_seconds_sum (\S+)$/m.exec(text)?.[1];
    expect(Number(sum)).toBeCloseTo(5.0045, 9);
  });

  it("refuses a family registered twice and a counter not named _total", () => {
    const m = new MetricsRegistry();
    m.gauge("geolock_x", "x", () => []);
    expect(() => m.gauge("geolock_x", "x", () => [])).toThrow(/registered twice/);
    expect(() => m.counterOf("geolock_requests", "r", () => [])).toThrow(/_total/);
  });
});
