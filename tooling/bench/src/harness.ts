/** One thing to time: `op` is awaited `iterations` times per round. */
export interface BenchCase {
  name: string;
  setup?: () => Promise<void> | void;
  op: () => unknown;
  teardown?: () => Promise<void> | void;
}

export interface CaseResult {
  name: string;
  /** Median over rounds, nanoseconds per awaited op (with several in flight: wall time / ops). */
  nsPerOp: number;
  /** Every round's ns/op, to judge the spread. */
  rounds: number[];
  /** This row's own baseline and reference, when a table holds several sizes (else the group's). */
  baseline?: string;
  reference?: string;
}

export interface RunOptions {
  iterations: number;
  rounds: number;
  /** Calls kept outstanding at once (default 1: each op awaited before the next starts). */
  inFlight?: number;
  onProgress?: (message: string) => void;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timeRound(op: () => unknown, iterations: number, inFlight: number): Promise<number> {
  const start = process.hrtime.bigint();
  if (inFlight === 1) {
    for (let i = 0; i < iterations; i++) await op();
  } else {
    // `inFlight` workers draw from one shared count, so exactly `iterations` ops run and the
    // in-flight level stays constant until the last few.
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next++ < iterations) await op();
      }),
    );
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

/**
 * Times the cases in the same run, interleaved round by round (A B C, A B C, ...), so that a
 * slow moment of the machine hits every case alike and the ratios stay meaningful. Every case
 * that was set up is torn down, even when one fails.
 */
export async function runInterleaved(
  cases: BenchCase[],
  options: RunOptions,
): Promise<CaseResult[]> {
  const inFlight = options.inFlight ?? 1;
  const setUp: BenchCase[] = [];
  let results: CaseResult[];
  try {
    for (const c of cases) {
      setUp.push(c);
      await c.setup?.();
    }
    // Warm up every op so the JIT has compiled each path before timing starts.
    for (const c of cases) {
      await timeRound(c.op, Math.min(options.iterations, 50_000), inFlight);
    }
    const rounds = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < options.rounds; r++) {
      for (const c of cases) {
        rounds.get(c.name)!.push(await timeRound(c.op, options.iterations, inFlight));
      }
      options.onProgress?.(`round ${r + 1}/${options.rounds}`);
    }
    results = cases.map((c) => ({
      name: c.name,
      nsPerOp: median(rounds.get(c.name)!),
      rounds: rounds.get(c.name)!,
    }));
  } catch (error) {
    // The first failure is the one worth reporting; teardown errors after it are secondary.
    await Promise.allSettled(setUp.map(async (c) => c.teardown?.()));
    throw error;
  }
  const closing = await Promise.allSettled(setUp.map(async (c) => c.teardown?.()));
  const failed = closing.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results;
}
