/**
 * One worker process of the demo: it opens the shared SQLite file, and on each `run` command fires
 * its requests for one cold key at the agreed instant, then reports what they saw.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isNoValue, makeRegion } from '@dogpile/core';
import { SqliteBackend } from '@dogpile/sqlite';
import {
  type Command,
  type Report,
  type Scenario,
  type WorkerConfig,
  type WorkerResult,
  wallClock,
} from './protocol.js';

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;

function send(report: Report): void {
  process.send?.(report);
}

// The parent owns this process: if it goes away (killed, crashed), there is nobody to report to.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group; the parent decides when workers stop, and cleans up.
process.on('SIGINT', () => {});

// Two connections to the same file: one whose lock (a LeaseMutex on the lock table) spans processes, and one that
// gives no distributed mutex, so its region can only lock within this process.
const shared = makeRegion({ name: 'shared' }).configure(
  new SqliteBackend({ filename: config.filename }),
  { expirationTime: '5m' },
);
const local = makeRegion({ name: 'local' }).configure(
  new SqliteBackend({ filename: config.filename, distributedLock: false }),
  { expirationTime: '5m' },
);

/** The request handler of each scenario: how it gets the value for `key`. */
function handlerFor(
  scenario: Scenario,
  key: string,
  creator: () => Promise<string>,
): () => Promise<string> {
  switch (scenario) {
    case 'cache-aside':
      // What most code does: read, and on a miss compute and write, with nothing in between.
      return async () => {
        const cached = await shared.get<string>(key);
        if (!isNoValue(cached)) return cached;
        const value = await creator();
        await shared.set(key, value);
        return value;
      };
    case 'local-lock':
      return () => local.getOrCreate(key, creator);
    case 'dogpile':
      return () => shared.getOrCreate(key, creator);
  }
}

async function stampede(scenario: Scenario, key: string, startAt: number): Promise<WorkerResult> {
  const creatorEnds: number[] = [];
  const creator = async () => {
    const run = creatorEnds.length + 1;
    await sleep(config.creatorMs); // the expensive query, rendering, API call...
    creatorEnds.push(wallClock());
    return `report from worker ${config.index}, run ${run}`;
  };
  const handle = handlerFor(scenario, key, creator);
  await sleep(Math.max(0, startAt - wallClock()));
  const firedAt = wallClock();
  const outcomes = await Promise.all(
    Array.from({ length: config.callers }, async () => {
      const start = performance.now();
      const value = await handle();
      return { value, ms: performance.now() - start, at: wallClock() };
    }),
  );
  return {
    scenario,
    creatorRuns: creatorEnds.length,
    creatorEnds,
    firedAt,
    latencies: outcomes.map((o) => o.ms),
    finishedAt: outcomes.map((o) => o.at),
    values: [...new Set(outcomes.map((o) => o.value))],
  };
}

/** Runs the code paths of a request once, as a server would have by the time a stampede hits. */
async function warmUp(): Promise<void> {
  const key = `warm-up:${config.index}`;
  await shared.getOrCreate(key, async () => 'warm');
  await local.getOrCreate(key, async () => 'warm');
  await shared.get(key);
  await shared.set(key, 'warm');
}

async function stop(): Promise<void> {
  await Promise.all([shared.close(), local.close()]);
  process.exit(0);
}

process.on('message', (command: Command) => {
  if (command.type === 'stop') {
    void stop();
    return;
  }
  stampede(command.scenario, command.key, command.startAt).then(
    (result) => send({ type: 'result', result }),
    (error: unknown) => send({ type: 'failed', message: String(error) }),
  );
});

try {
  await warmUp();
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'failed', message: String(error) });
}
