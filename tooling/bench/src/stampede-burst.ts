import { createInterface } from 'node:readline';
import { sleep, VALUE } from './fixtures.js';
import type { StampedeRound } from './groups.js';
import type { Contender } from './peers/contender.js';

/** The value at percentile `p` (0-100) of ascending `sorted`, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** The progress line of stampede round `round`; rounds below 0 are the unreported warm-up. */
export function roundProgress(round: number, warmup: number, rounds: number): string {
  return round < 0 ? `warm-up ${round + warmup + 1}/${warmup}` : `round ${round + 1}/${rounds}`;
}

export interface Burst {
  /** How often this process ran the creator. */
  creatorRuns: number;
  /** Milliseconds from this burst's first call to its first creator run (none: absent). */
  creatorStartMs?: number;
  /** Each caller's latency, milliseconds. */
  latencies: number[];
}

/**
 * `callers` concurrent read-through calls on one cold `key`, all started in the same tick, with a
 * creator that takes `creatorMs`. Counts the creator runs in this process and times each caller.
 */
export async function burst(
  contender: Contender,
  key: string,
  callers: number,
  creatorMs: number,
): Promise<Burst> {
  let creatorRuns = 0;
  let creatorStartMs: number | undefined;
  const creator = async () => {
    creatorRuns++;
    creatorStartMs ??= performance.now() - started;
    await sleep(creatorMs);
    return VALUE;
  };
  const started = performance.now();
  const latencies = await Promise.all(
    Array.from({ length: callers }, async () => {
      const started = performance.now();
      const value = await contender.getOrCreate(key, creator);
      if ((value as typeof VALUE | undefined)?.id !== VALUE.id) {
        throw new Error(`${contender.name} returned ${JSON.stringify(value)} for ${key}`);
      }
      return performance.now() - started;
    }),
  );
  return creatorStartMs === undefined
    ? { creatorRuns, latencies }
    : { creatorRuns, creatorStartMs, latencies };
}

/** One round's figures from the bursts of every process. */
export function summarize(bursts: readonly Burst[]): StampedeRound {
  const sorted = bursts.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const starts = bursts.flatMap((b) => (b.creatorStartMs === undefined ? [] : [b.creatorStartMs]));
  return {
    creatorRuns: bursts.reduce((sum, b) => sum + b.creatorRuns, 0),
    ...(starts.length > 0 ? { creatorStartMs: Math.min(...starts) } : {}),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * The loop of a child process with one contender: says it is ready, then answers each stdin
 * line `{ key, creatorMs }` with the JSON of one {@link burst} (or `{ error }`), and closes the
 * contender when stdin ends.
 */
export async function serveBursts(contender: Contender, callers: number): Promise<void> {
  try {
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() === '') continue;
      const request = JSON.parse(line) as { key: string; creatorMs: number };
      try {
        const result = await burst(contender, request.key, callers, request.creatorMs);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } catch (error) {
        process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
      }
    }
  } finally {
    await contender.close();
  }
}
