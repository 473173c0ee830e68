import type { StampedeGroup, StampedeResult } from '../groups.js';
import { cacheAside } from '../peers/cache-aside.js';
import { closeAll, contendersOn } from '../peers/index.js';
import { burst, roundProgress, summarize } from '../stampede-burst.js';

export interface StampedeOptions {
  callers: number;
  creatorMs: number;
  /** Measured rounds, each on a fresh cold key per contender. */
  rounds: number;
  /** Unreported rounds first, with a short creator, so V8 has compiled every path. */
  warmup: number;
  onProgress?: (message: string) => void;
}

const WARMUP_CREATOR_MS = 10;

/**
 * 1,000 concurrent callers for one cold key in one process, on the memory store: how often the
 * creator runs and what the callers wait, for each contender and for plain cache-aside.
 * Contenders take turns round by round, so machine noise falls on all of them alike.
 */
export async function stampedeInProcess(options: StampedeOptions): Promise<StampedeGroup> {
  const { contenders, notApplicable } = await contendersOn({ kind: 'memory' });
  const all = [...contenders, cacheAside()];
  try {
    const results: StampedeResult[] = all.map((c) => ({ name: c.name, rounds: [] }));
    for (let round = -options.warmup; round < options.rounds; round++) {
      for (const [i, contender] of all.entries()) {
        const key = `${contender.id}:stampede:${round}`;
        const creatorMs = round < 0 ? WARMUP_CREATOR_MS : options.creatorMs;
        const figures = summarize([await burst(contender, key, options.callers, creatorMs)]);
        if (round >= 0) results[i]!.rounds.push(figures);
      }
      options.onProgress?.(roundProgress(round, options.warmup, options.rounds));
    }
    return {
      kind: 'stampede',
      title: `Cold-key stampede in one process: ${options.callers.toLocaleString('en-US')} callers, creator ${options.creatorMs} ms, memory store (medians of ${options.rounds} rounds)`,
      processes: 1,
      callersPerProcess: options.callers,
      creatorMs: options.creatorMs,
      results,
      notApplicable,
    };
  } finally {
    await closeAll(all);
  }
}
