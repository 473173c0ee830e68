import { sleep, VALUE } from '../fixtures.js';
import type { CurveGroup, CurveResult, CurveRound } from '../groups.js';
import type { Contender } from '../peers/contender.js';
import { dogpile } from '../peers/dogpile.js';
import { closeAll } from '../peers/index.js';
import { roundProgress, summarize } from '../stampede-burst.js';

export interface CurveOptions {
  /** Numbers of concurrent callers, one burst each per round. */
  sizes: readonly number[];
  creatorMs: number;
  rounds: number;
  /** Unreported rounds first, so V8 has compiled every path. */
  warmup: number;
  onProgress?: (message: string) => void;
}

const FLOOR = 'shared promise (floor)';

/**
 * The least any coalescing cache can do: a Map of values and a Map of pending creations, every
 * caller of a missing key awaiting the one creator's promise. No expiry, no lock, no metadata.
 */
function sharedPromise(): Contender {
  const values = new Map<string, unknown>();
  const pending = new Map<string, Promise<unknown>>();
  return {
    name: FLOOR,
    id: 'floor',
    getOrCreate: (key, creator) => {
      const value = values.get(key);
      if (value !== undefined) return Promise.resolve(value);
      let creating = pending.get(key);
      if (!creating) {
        creating = creator().then((created) => {
          values.set(key, created);
          pending.delete(key);
          return created;
        });
        pending.set(key, creating);
      }
      return creating;
    },
    close: async () => {},
  };
}

/** One burst of `callers` calls on cold `key`, timed as a whole and creator by creator. */
async function timedBurst(
  contender: Contender,
  key: string,
  callers: number,
  creatorMs: number,
): Promise<CurveRound> {
  let creatorRuns = 0;
  let creatorActualMs = 0;
  const creator = async () => {
    creatorRuns++;
    const started = performance.now();
    await sleep(creatorMs);
    creatorActualMs = Math.max(creatorActualMs, performance.now() - started);
    return VALUE;
  };
  const started = performance.now();
  const latencies = await Promise.all(
    Array.from({ length: callers }, async () => {
      const t = performance.now();
      const value = await contender.getOrCreate(key, creator);
      if ((value as typeof VALUE | undefined)?.id !== VALUE.id) {
        throw new Error(`${contender.name} returned ${JSON.stringify(value)} for ${key}`);
      }
      return performance.now() - t;
    }),
  );
  const wallMs = performance.now() - started;
  const figures = summarize([{ creatorRuns, latencies }]);
  return { ...figures, wallMs, creatorActualMs };
}

/**
 * The one-process stampede at 1k, 10k and 100k callers on one cold key (memory store): what
 * each caller costs beyond the creator's own time, which must stay flat as callers grow, and
 * the callers' p99 - creator. Beside dogpile, the floor: callers awaiting one shared promise.
 * Sizes and contenders take turns within each round.
 */
export async function stampedeCurve(options: CurveOptions): Promise<CurveGroup> {
  const all = [await dogpile({ kind: 'memory' }), sharedPromise()];
  try {
    const results: CurveResult[] = options.sizes.flatMap((callers) =>
      all.map((c) => ({ name: c.name, callers, rounds: [] as CurveRound[] })),
    );
    for (let round = -options.warmup; round < options.rounds; round++) {
      for (const [s, callers] of options.sizes.entries()) {
        for (const [i, contender] of all.entries()) {
          const key = `${contender.id}:curve:${callers}:${round}`;
          const figures = await timedBurst(contender, key, callers, options.creatorMs);
          if (round >= 0) results[s * all.length + i]!.rounds.push(figures);
        }
      }
      options.onProgress?.(roundProgress(round, options.warmup, options.rounds));
    }
    return {
      kind: 'curve',
      title: `Cold-key stampede in one process, cost per caller: ${options.sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} callers, creator ${options.creatorMs} ms, memory store (medians of ${options.rounds} rounds, and the worst)`,
      creatorMs: options.creatorMs,
      results,
      notApplicable: [],
    };
  } finally {
    await closeAll(all);
  }
}
