import { ChildPool } from '../child-pool.js';
import type { StampedeGroup, StampedeRound } from '../groups.js';
import { type Burst, roundProgress, summarize } from '../stampede-burst.js';

const WARMUP_CREATOR_MS = 20;

/** 8 processes x 250 callers, creator 200 ms; warm rounds, and first bursts of fresh processes. */
export const MEMCACHED_STAMPEDE_SETTINGS = {
  full: { processes: 8, callers: 250, creatorMs: 200, rounds: 7, warmup: 10, freshRuns: 5 },
  quick: { processes: 8, callers: 250, creatorMs: 100, rounds: 1, warmup: 1, freshRuns: 1 },
} as const;

type Settings = (typeof MEMCACHED_STAMPEDE_SETTINGS)[keyof typeof MEMCACHED_STAMPEDE_SETTINGS];

const CHILD = new URL('./memcached-stampede-child.ts', import.meta.url);

function group(title: string, s: Settings, rounds: StampedeRound[]): StampedeGroup {
  return {
    kind: 'stampede',
    title,
    processes: s.processes,
    callersPerProcess: s.callers,
    creatorMs: s.creatorMs,
    results: [{ name: 'dogpile getOrCreate (distributedLock)', rounds }],
    notApplicable: [],
  };
}

/**
 * A cold-key stampede across processes on Memcached, twice: with warm processes (connected,
 * JIT-compiled, after warm-up rounds), and with freshly started ones, whose first burst also
 * opens the connection. dogpile takes the Memcached lock (ADD) behind each process's local lock.
 */
export async function memcachedStampede(
  servers: string,
  s: Settings,
  onProgress?: (message: string) => void,
): Promise<StampedeGroup[]> {
  const run = Date.now().toString(36);
  const arg = { servers, callers: s.callers };
  const warm: StampedeRound[] = [];
  const pool = await ChildPool.start(CHILD, s.processes, arg);
  try {
    for (let round = -s.warmup; round < s.rounds; round++) {
      const figures = summarize(
        await pool.broadcast<Burst>({
          key: `mc:xstampede:${run}:${round}`,
          creatorMs: round < 0 ? WARMUP_CREATOR_MS : s.creatorMs,
        }),
      );
      if (round >= 0) warm.push(figures);
      onProgress?.(`warm ${roundProgress(round, s.warmup, s.rounds)}`);
    }
  } finally {
    await pool.stop();
  }
  const fresh: StampedeRound[] = [];
  for (let i = 0; i < s.freshRuns; i++) {
    const freshPool = await ChildPool.start(CHILD, s.processes, arg);
    try {
      fresh.push(
        summarize(
          await freshPool.broadcast<Burst>({ key: `mc:fresh:${run}:${i}`, creatorMs: s.creatorMs }),
        ),
      );
    } finally {
      await freshPool.stop();
    }
    onProgress?.(`fresh processes ${i + 1}/${s.freshRuns}`);
  }
  const title = (what: string, n: number) =>
    `Cold-key stampede across processes, Memcached (${what}): ${s.processes} processes x ${s.callers} callers, creator ${s.creatorMs} ms (medians of ${n} rounds)`;
  return [
    group(title('warm processes', s.rounds), s, warm),
    group(title('freshly started processes, first call', s.freshRuns), s, fresh),
  ];
}
