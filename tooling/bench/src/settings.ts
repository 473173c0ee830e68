/**
 * How much each group measures. The full run is sized for a few minutes on a 2-core VM; the
 * quick run only proves that every case runs (CI), in well under a minute of measuring.
 */
export const SETTINGS = {
  full: {
    memoryHit: { iterations: 200_000, rounds: 15 },
    /** Redis hit path at 1 and at 64 in flight. */
    redisHit: [
      { iterations: 5_000, rounds: 9 },
      { iterations: 20_000, rounds: 9 },
    ],
    getMulti: { iterations: 20_000, rounds: 9 },
    /** Overrides for getMulti on Redis and SQLite, where one op costs far more. */
    getMultiRemote: { iterations: 2_000 },
    stampedeInProcess: { callers: 1000, creatorMs: 100, rounds: 9, warmup: 3 },
    processes: 8,
    stampedeProcesses: { callers: 250, creatorMs: 200, rounds: 7, warmup: 10 },
    /** A run still going after this is hung: it fails instead of stalling. */
    watchdogMinutes: 30,
  },
  quick: {
    memoryHit: { iterations: 20_000, rounds: 3 },
    redisHit: [
      { iterations: 1_000, rounds: 3 },
      { iterations: 3_000, rounds: 3 },
    ],
    getMulti: { iterations: 2_000, rounds: 3 },
    getMultiRemote: { iterations: 200 },
    stampedeInProcess: { callers: 1000, creatorMs: 50, rounds: 1, warmup: 1 },
    processes: 8,
    stampedeProcesses: { callers: 250, creatorMs: 100, rounds: 1, warmup: 1 },
    watchdogMinutes: 5,
  },
} as const;
