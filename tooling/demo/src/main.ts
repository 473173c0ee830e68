/**
 * `pnpm demo`: worker processes sharing one SQLite file stampede a cold key three ways (no lock,
 * a lock within each process, the dogpile lock in the file) and the demo prints what it cost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '@dogpile/sqlite';
import { WorkerPool } from './pool.js';
import { CALLERS_PER_WORKER, CREATOR_MS, SCENARIOS, WORKERS } from './protocol.js';
import {
  printFailure,
  printHeader,
  printInterrupted,
  printTable,
  printVerdict,
  type Summary,
  status,
  summarize,
} from './report.js';

/** A run takes a few seconds; anything far beyond that is a hang, not a slow machine. */
const WATCHDOG_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'dogpile-demo-'));
const filename = join(dir, 'cache.db');
let pool: WorkerPool | undefined;

/** Leaves nothing behind, synchronously, so it also works from an exit or signal handler. */
function removeEverything(): void {
  pool?.killAll();
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', removeEverything);

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
let interrupted = false;
for (const signal of Object.keys(SIGNALS) as Array<keyof typeof SIGNALS>) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    status(undefined);
    // Wait for the killed workers, so none is left behind, even as a zombie, when this exits.
    const gone = pool?.kill() ?? Promise.resolve();
    const timer = setTimeout(() => process.exit(1), 2000);
    void gone.then(() => {
      clearTimeout(timer);
      removeEverything();
      printInterrupted();
      // The conventional status of a process ended by a signal: 128 + the signal's number.
      process.exit(128 + SIGNALS[signal]);
    });
  });
}

async function main(): Promise<boolean> {
  printHeader(WORKERS, CALLERS_PER_WORKER, CREATOR_MS);

  // Create the file and its tables once, before the workers open it together.
  await new SqliteBackend({ filename }).close();

  status(`starting ${WORKERS} worker processes…`);
  pool = new WorkerPool(
    Array.from({ length: WORKERS }, (_, index) => ({
      index,
      filename,
      callers: CALLERS_PER_WORKER,
      creatorMs: CREATOR_MS,
    })),
  );
  await pool.ready();

  const summaries: Summary[] = [];
  for (const scenario of SCENARIOS) {
    status(`stampede ${summaries.length + 1} of ${SCENARIOS.length}…`);
    // A key of its own for each scenario, so each one starts cold.
    summaries.push(summarize(scenario, await pool.run(scenario, `report:${scenario}`)));
  }
  status(undefined);
  await pool.stop();

  printTable(summaries);
  return printVerdict(summaries.find((s) => s.scenario === 'dogpile')!, WORKERS, CREATOR_MS);
}

const watchdog = setTimeout(() => {
  printFailure(new Error(`no result after ${WATCHDOG_MS / 1000} s; giving up.`));
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

try {
  if (!(await main())) process.exitCode = 1;
} catch (error) {
  printFailure(error);
  process.exitCode = 1;
} finally {
  await pool?.stop();
  clearTimeout(watchdog);
  removeEverything();
}
