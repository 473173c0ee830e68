/** One thing to time: `op` is awaited `iterations` times per round. */
export interface BenchCase {
  name: string;
  setup?: () => Promise<void> | void;
  op: () => unknown;
  teardown?: () => Promise<void> | void;
}

export interface CaseResult {
  name: string;
  /** Median over rounds, nanoseconds per awaited op. */
  nsPerOp: number;
  /** Every round's ns/op, to judge the spread. */
  rounds: number[];
}

export interface RunOptions {
  iterations: number;
  rounds: number;
  onProgress?: (message: string) => void;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timeRound(op: () => unknown, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/**
 * Times the cases in the same run, interleaved round by round (A B C, A B C, ...), so that a
 * slow moment of the machine hits every case alike and the ratios stay meaningful.
 */
export async function runInterleaved(
  cases: BenchCase[],
  options: RunOptions,
): Promise<CaseResult[]> {
  for (const c of cases) await c.setup?.();
  // Warm up every op so the JIT has compiled each path before timing starts.
  for (const c of cases) await timeRound(c.op, Math.min(options.iterations, 50_000));
  const rounds = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const c of cases) rounds.get(c.name)!.push(await timeRound(c.op, options.iterations));
    options.onProgress?.(`round ${r + 1}/${options.rounds}`);
  }
  for (const c of cases) await c.teardown?.();
  return cases.map((c) => ({
    name: c.name,
    nsPerOp: median(rounds.get(c.name)!),
    rounds: rounds.get(c.name)!,
  }));
}
