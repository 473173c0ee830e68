/**
 * How much each group measures. The full run is sized for a few minutes on a 2-core VM; the
 * quick run only proves that every case runs (CI), in well under a minute of measuring.
 */
export const SETTINGS = {
  full: {
    memoryHit: { iterations: 200_000, rounds: 15 },
    /** Memory hits over key sets of these sizes, random order. */
    memoryHitSizes: { sizes: [1_000, 1_000_000], iterations: 200_000, rounds: 9 },
    /** Redis hit path at 1 and at 64 in flight. */
    redisHit: [
      { iterations: 5_000, rounds: 9 },
      { iterations: 20_000, rounds: 9 },
    ],
    getMulti: { iterations: 20_000, rounds: 9 },
    /** Overrides for getMulti on Redis and SQLite, where one op costs far more. */
    getMultiRemote: { iterations: 2_000 },
    /** getOrCreateMulti, memory, warm and cold: every case reads keysPerRound keys a round. */
    getOrCreateMulti: { sizes: [10, 1_000, 10_000], keysPerRound: 100_000, rounds: 9 },
    stampedeInProcess: { callers: 1000, creatorMs: 100, rounds: 9, warmup: 3 },
    /** The one-process stampede at growing numbers of callers (cost per caller). */
    stampedeCurve: { sizes: [1_000, 10_000, 100_000], creatorMs: 20, rounds: 7, warmup: 2 },
    processes: 8,
    stampedeProcesses: { callers: 250, creatorMs: 200, rounds: 7, warmup: 10 },
    /** The first burst of freshly started processes (same sizes): new processes each round. */
    stampedeFresh: { rounds: 5 },
    /** A run still going after this is hung: it fails instead of stalling. */
    watchdogMinutes: 30,
  },
  quick: {
    memoryHit: { iterations: 20_000, rounds: 3 },
    memoryHitSizes: { sizes: [1_000, 1_000_000], iterations: 20_000, rounds: 2 },
    redisHit: [
      { iterations: 1_000, rounds: 3 },
      { iterations: 3_000, rounds: 3 },
    ],
    getMulti: { iterations: 2_000, rounds: 3 },
    getMultiRemote: { iterations: 200 },
    getOrCreateMulti: { sizes: [10, 1_000, 10_000], keysPerRound: 10_000, rounds: 1 },
    stampedeInProcess: { callers: 1000, creatorMs: 50, rounds: 1, warmup: 1 },
    stampedeCurve: { sizes: [1_000, 10_000, 100_000], creatorMs: 20, rounds: 1, warmup: 0 },
    processes: 8,
    stampedeProcesses: { callers: 250, creatorMs: 100, rounds: 1, warmup: 1 },
    stampedeFresh: { rounds: 1 },
    watchdogMinutes: 5,
  },
} as const;
