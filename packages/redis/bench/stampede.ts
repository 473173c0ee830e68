// A cold-key stampede across processes: PROCESSES processes x CALLERS concurrent getOrCreate
// calls on one key whose creator takes CREATOR_MS, repeated ROUNDS times on fresh keys, after
// WARMUP unreported rounds with a short creator (a server process runs warm: the first rounds of
// a fresh process measure V8 compiling the code paths, not the lock).
// Reports how often the creator ran and the callers' latency percentiles.
// Run: pnpm exec tsx bench/stampede.ts (builds dist/ first; needs redis-server).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRedis } from '@dogpile/test-servers';
import { Redis } from 'ioredis';

const PROCESSES = Number(process.env.PROCESSES ?? 8);
const CALLERS = Number(process.env.CALLERS ?? 250);
const CREATOR_MS = Number(process.env.CREATOR_MS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 20);
const WARMUP_CREATOR_MS = 20;

export interface StampedeRound {
  creatorRuns: number;
  p50: number;
  p99: number;
  max: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** Compiles src/ to dist/, which the child processes import. */
export function buildDist(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: 'inherit',
  });
}

/** Runs the stampede rounds against the server at `url`; dist/ must be built. */
export async function runStampede(url: string): Promise<StampedeRound[]> {
  const child = fileURLToPath(new URL('./stampede-child.mjs', import.meta.url));
  const args = JSON.stringify({ url, callers: CALLERS });
  const children: ChildProcess[] = [];
  const lineQueues: Array<AsyncIterator<string>> = [];
  for (let i = 0; i < PROCESSES; i++) {
    const proc = spawn(process.execPath, [child, args], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(proc);
    lineQueues.push(createInterface({ input: proc.stdout! })[Symbol.asyncIterator]());
  }
  const next = async (i: number) => {
    const line = await lineQueues[i]!.next();
    if (line.done) throw new Error(`stampede child ${i} exited early`);
    return line.value;
  };
  const raw = new Redis(url);
  try {
    await Promise.all(children.map((_, i) => next(i)));
    const rounds: StampedeRound[] = [];
    for (let round = -WARMUP; round < ROUNDS; round++) {
      const key = `bench:stampede:${Date.now()}:${round}`;
      const creatorMs = round < 0 ? WARMUP_CREATOR_MS : CREATOR_MS;
      for (const proc of children) proc.stdin!.write(`${key} ${creatorMs}\n`);
      const reports = await Promise.all(children.map(async (_, i) => JSON.parse(await next(i))));
      if (round < 0) continue;
      const latencies = reports
        .flatMap((report) => report.latencies as number[])
        .sort((a, b) => a - b);
      rounds.push({
        creatorRuns: Number(await raw.get(`${key}:runs`)),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1]!,
      });
    }
    for (const proc of children) proc.stdin!.end('\n');
    return rounds;
  } finally {
    await raw.quit();
    for (const proc of children) if (proc.exitCode === null) proc.kill();
  }
}

export function printStampede(rounds: StampedeRound[]): void {
  console.log(
    `stampede: ${PROCESSES} processes x ${CALLERS} callers, creator ${CREATOR_MS} ms, ${rounds.length} rounds on fresh keys (after ${WARMUP} warm-up rounds)`,
  );
  for (const [i, r] of rounds.entries()) {
    console.log(
      `  round ${i + 1}: creator runs ${r.creatorRuns} | p50 ${r.p50.toFixed(1)} ms | p99 ${r.p99.toFixed(1)} ms ` +
        `(p99 - creator ${(r.p99 - CREATOR_MS).toFixed(1)} ms) | max ${r.max.toFixed(1)} ms`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildDist();
  const server = await startRedis();
  try {
    printStampede(await runStampede(server.url));
  } finally {
    await server.stop();
  }
}
