import { ChildPool } from '../child-pool.js';
import type { StampedeGroup, StampedeRound } from '../groups.js';
import type { Store } from '../peers/contender.js';
import { type Burst, summarize } from '../stampede-burst.js';
import type { FreshChildArgs } from '../stampede-fresh-child.js';

const CHILD = new URL('../stampede-fresh-child.ts', import.meta.url);

export interface FreshStampedeOptions {
  processes: number;
  callers: number;
  creatorMs: number;
  /** Rounds, each with a new set of freshly started processes. */
  rounds: number;
  onProgress?: (message: string) => void;
}

const STORE_LABEL: Record<Store['kind'], string> = {
  memory: 'memory',
  redis: 'Redis',
  sqlite: 'SQLite (one file)',
};

/**
 * The stampede at a deploy: for each round, `processes` new children import and configure a
 * dogpile region on `store` (the distributed lock on), say they are ready, and are then sent the
 * same cold key at once; each fires `callers` concurrent calls as its very first work. dogpile
 * only: the peers lock within a process, so the warm table already shows what they do.
 */
export async function stampedeFresh(
  store: Exclude<Store, { kind: 'memory' }>,
  options: FreshStampedeOptions,
): Promise<StampedeGroup> {
  const run = Date.now().toString(36);
  const args: FreshChildArgs = { store, callers: options.callers };
  const rounds: StampedeRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const pool = await ChildPool.start(CHILD, options.processes, args);
    try {
      const bursts = await pool.broadcast<Burst>({
        key: `dogpile:fresh:${run}:${round}`,
        creatorMs: options.creatorMs,
      });
      rounds.push(summarize(bursts));
    } finally {
      await pool.stop();
    }
    options.onProgress?.(`fresh processes ${round + 1}/${options.rounds}`);
  }
  return {
    kind: 'stampede',
    title: `Cold-key stampede across processes, ${STORE_LABEL[store.kind]} (freshly started processes, first call): ${options.processes} processes x ${options.callers} callers, creator ${options.creatorMs} ms (medians of ${options.rounds} rounds)`,
    processes: options.processes,
    callersPerProcess: options.callers,
    creatorMs: options.creatorMs,
    results: [{ name: 'dogpile getOrCreate', rounds }],
    notApplicable: [],
  };
}
