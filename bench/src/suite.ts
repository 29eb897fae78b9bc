// What every benchmark suite provides, so that `npm run bench [suite...]` can run any of
// them and write comparable result files to bench/results/.

export interface BenchOptions {
  /** Seconds of warm-up before each measured window. */
  readonly warmupSeconds: number;
  /** Seconds of each measured window. */
  readonly measureSeconds: number;
  /** How many times each scenario is repeated; the median is reported. */
  readonly repeats: number;
  /** A directory the suite may use for data files; removed afterwards by the runner. */
  readonly scratchDir: string;
  /** The built checkout the `ab` suite compares this build with (--base). */
  readonly baseDir?: string | undefined;
}

/** One measured scenario, e.g. "geolock region put, c=64". */
export interface ScenarioResult {
  readonly scenario: string;
  /** The system measured: "geolock", "etcd 3.4.23", "redis 7.0", ... */
  readonly system: string;
  readonly concurrency?: number;
  readonly opsPerSecond: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly p999Ms?: number;
  /** The single repeats the medians above were taken from, in the order they ran. */
  readonly runs?: readonly RunSample[];
  /** Anything else worth recording (CPU time per op, batch size, fairness, ...). */
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** One repeat of a scenario. */
export interface RunSample {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface BenchSuite {
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<ScenarioResult[]>;
}
