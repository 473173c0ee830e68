import { makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';

const CALLERS = 1000;
const CREATOR_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[22m` : s);
const green = (s: string) => (process.stdout.isTTY ? `\x1b[32m${s}\x1b[39m` : s);
const red = (s: string) => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[39m` : s);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Outcome {
  creatorRuns: number;
  latencies: number[];
  distinctValues: number;
}

/** Fires CALLERS concurrent requests for one cold key at `get`, timing each caller. */
async function stampede(
  get: (creator: () => Promise<string>) => Promise<string>,
): Promise<Outcome> {
  let creatorRuns = 0;
  const creator = async () => {
    const run = ++creatorRuns;
    await sleep(CREATOR_MS); // the expensive query, rendering, API call...
    return `report #${run}`;
  };
  const values = await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      const start = performance.now();
      const value = await get(creator);
      return { value, ms: performance.now() - start };
    }),
  );
  return {
    creatorRuns,
    latencies: values.map((v) => v.ms).sort((a, b) => a - b),
    distinctValues: new Set(values.map((v) => v.value)).size,
  };
}

function describe(title: string, outcome: Outcome, good: boolean): void {
  const { latencies } = outcome;
  const runs = `${outcome.creatorRuns} creator run${outcome.creatorRuns === 1 ? '' : 's'}`;
  console.log(`  ${bold(title)}`);
  console.log(`    ${good ? green(runs) : red(runs)} for ${CALLERS} concurrent callers`);
  console.log(
    `    caller latency: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (creator takes ${CREATOR_MS} ms)`,
  );
  console.log(`    distinct values handed out: ${outcome.distinctValues}\n`);
}

console.log(
  `\n${bold('dogpile demo')}: ${CALLERS} concurrent requests for one cold key, a ${CREATOR_MS} ms creator, MemoryBackend\n`,
);

// Plain cache-aside, as most code does it: every caller that misses runs the creator.
const naiveCache = new Map<string, string>();
const naive = await stampede(async (creator) => {
  const hit = naiveCache.get('report');
  if (hit !== undefined) return hit;
  const value = await creator();
  naiveCache.set('report', value);
  return value;
});
describe('without the dogpile lock (get, miss, create, set)', naive, false);

const region = makeRegion({ name: 'demo' }).configure(new MemoryBackend(), {
  expirationTime: '5m',
});
const guarded = await stampede((creator) => region.getOrCreate('report', creator));
describe('with dogpile: region.getOrCreate(key, creator)', guarded, guarded.creatorRuns === 1);
await region.close();

if (guarded.creatorRuns !== 1) {
  console.error(red('The dogpile lock let more than one creator run: this is a bug.'));
  process.exitCode = 1;
} else {
  console.log(
    `  One caller ran the creator; the other ${CALLERS - 1} waited for its value instead of repeating the work.\n`,
  );
}
