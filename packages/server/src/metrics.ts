// A small Prometheus text-format registry: counters, gauges read at scrape time, and
// fixed-bucket histograms. Units are part of the names (`_seconds`, `_bytes`, `_total`).

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(lines: string[]): void;
}

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

export class Counter implements Family {
  readonly type = "counter";
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  render(lines: string[]): void {
    for (const [labels, value] of this.values) lines.push(`${this.name}${labels} ${value}`);
  }
}

/**
 * Samples read from the node when scraped, so they are never stale: a gauge, or a counter
 * that the node keeps itself (it only ever grows, so Prometheus may compute rates).
 */
export class ReadAtScrape implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "gauge" | "counter",
    private readonly read: () => ReadonlyArray<readonly [Labels, number]>,
  ) {
    if (type === "counter" && !name.endsWith("_total")) throw new Error(`counter ${name} must end in _total`);
  }

  render(lines: string[]): void {
    for (const [labels, value] of this.read()) lines.push(`${this.name}${labelText(labels)} ${value}`);
  }
}

export class Histogram implements Family {
  readonly type = "histogram";
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= (this.bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  render(lines: string[]): void {
    let cumulative = 0;
    this.bounds.forEach((bound, i) => {
      cumulative += this.counts[i] as number;
      lines.push(`${this.name}_bucket{le="${bound}"} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`);
    lines.push(`${this.name}_count ${this.count}`);
  }
}

/** Latency buckets from 100 µs to 10 s. */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export class MetricsRegistry {
  private readonly families: Family[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => ReadonlyArray<readonly [Labels, number]>): ReadAtScrape {
    return this.add(new ReadAtScrape(name, help, "gauge", read));
  }

  /** A counter the node already keeps (monotonic), read when scraped. */
  counterOf(name: string, help: string, read: () => ReadonlyArray<readonly [Labels, number]>): ReadAtScrape {
    return this.add(new ReadAtScrape(name, help, "counter", read));
  }

  histogram(name: string, help: string, bounds: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }

  render(): string {
    const lines: string[] = [];
    for (const family of this.families) {
      lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      family.render(lines);
    }
    return `${lines.join("\n")}\n`;
  }

  private add<F extends Family>(family: F): F {
    if (this.families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} registered twice`);
    this.families.push(family);
    return family;
  }
}
