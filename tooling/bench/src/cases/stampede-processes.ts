import type { ChildPool } from '../child-pool.js';
import type { StampedeGroup, StampedeResult } from '../groups.js';
import type { Store } from '../peers/contender.js';
import { type Burst, roundProgress, summarize } from '../stampede-burst.js';
import type { BurstRequest, Hello } from '../stampede-protocol.js';
import type { StampedeOptions } from './stampede-in-process.js';

const WARMUP_CREATOR_MS = 20;

const STORE_LABEL: Record<Store['kind'], string> = {
  memory: 'memory',
  redis: 'Redis',
  sqlite: 'SQLite (one file)',
};

/**
 * A cold-key stampede across processes: every child of `pool` fires `callers` concurrent calls
 * at the same cold key at once, for each contender on `store` in turn, round after round.
 * dogpile takes its backend's distributed mutex behind the per-process lock; the peers lock
 * within a process only, so expect one creator run per process from them.
 */
export async function stampedeProcesses(
  pool: ChildPool,
  store: Store['kind'],
  options: StampedeOptions,
): Promise<StampedeGroup> {
  const announced = (pool.hello as Hello)[store];
  if (!announced) throw new Error(`the stampede children were not started on ${store}`);
  const { contenders, notApplicable } = announced;
  const results: StampedeResult[] = contenders.map((c) => ({ name: c.name, rounds: [] }));
  // Unique per run, so keys never meet a value left by an earlier run on a reused store.
  const run = Date.now().toString(36);
  for (let round = -options.warmup; round < options.rounds; round++) {
    for (const [i, contender] of contenders.entries()) {
      const request: BurstRequest = {
        store,
        contender: contender.id,
        key: `${contender.id}:xstampede:${run}:${round}`,
        creatorMs: round < 0 ? WARMUP_CREATOR_MS : options.creatorMs,
      };
      const figures = summarize(await pool.broadcast<Burst>(request));
      if (round >= 0) results[i]!.rounds.push(figures);
    }
    options.onProgress?.(roundProgress(round, options.warmup, options.rounds));
  }
  return {
    kind: 'stampede',
    title: `Cold-key stampede across processes: ${pool.size} processes x ${options.callers} callers, creator ${options.creatorMs} ms, ${STORE_LABEL[store]} (medians of ${options.rounds} rounds)`,
    processes: pool.size,
    callersPerProcess: options.callers,
    creatorMs: options.creatorMs,
    results,
    notApplicable,
  };
}
