/**
 * `pnpm bench` (`-- --quick` for the smoke run CI does): every case, tables on stdout as each
 * group finishes, progress on stderr, and bench-results/{quick,full}.json. Exits non-zero when
 * any group failed to run or has a case without samples; speed itself is never judged.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type MemcachedServer,
  type RedisServer,
  startMemcached,
  startRedis,
} from '@dogpile/test-servers';
import { fileHit } from './cases/file-hit.js';
import { FILE_HIT_SETTINGS } from './cases/file-shared.js';
import { fileStampede } from './cases/file-stampede.js';
import { getMulti } from './cases/get-multi.js';
import { getOrCreateMulti } from './cases/get-or-create-multi.js';
import { MEMCACHED_HIT_SETTINGS, memcachedHit } from './cases/memcached-hit.js';
import { MEMCACHED_STAMPEDE_SETTINGS, memcachedStampede } from './cases/memcached-stampede.js';
import { memoryHit } from './cases/memory-hit.js';
import { memoryHitSizes } from './cases/memory-hit-sizes.js';
import { proxiesMemoryHit, proxiesRedisHit } from './cases/proxies-hit.js';
import { redisHit } from './cases/redis-hit.js';
import { stampedeCurve } from './cases/stampede-curve.js';
import { stampedeFresh } from './cases/stampede-fresh.js';
import { stampedeInProcess } from './cases/stampede-in-process.js';
import { stampedeProcesses } from './cases/stampede-processes.js';
import { ChildPool } from './child-pool.js';
import { type Group, missingSamples } from './groups.js';
import { closeAll, contendersOn, type Store } from './peers/index.js';
import { printGroup } from './report.js';
import { SETTINGS } from './settings.js';
import type { ChildArgs } from './stampede-protocol.js';

const quick = process.argv.includes('--quick');
const settings = SETTINGS[quick ? 'quick' : 'full'];
const started = performance.now();
const machine = {
  node: process.version,
  cpu: cpus()[0]?.model.trim() ?? 'unknown',
  cores: cpus().length,
};

const groups: Group[] = [];
const failures: Array<{ section: string; error: string }> = [];

// Progress: rewritten in place on a terminal; one line per step in a log (CI).
const tty = process.stderr.isTTY;
function progress(section: string) {
  return (message: string) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    if (tty) process.stderr.write(`\r\x1b[2K  [${seconds}s] ${section}: ${message}`);
    else process.stderr.write(`  [${seconds}s] ${section}: ${message}\n`);
  };
}

/** Runs one group, prints its table, and records it, or records why it failed. */
async function section(
  name: string,
  run: (onProgress: (message: string) => void) => Promise<Group>,
): Promise<void> {
  const onProgress = progress(name);
  onProgress('starting');
  try {
    const group = await run(onProgress);
    if (tty) process.stderr.write('\r\x1b[2K');
    groups.push(group);
    printGroup(group);
    for (const problem of missingSamples(group)) failures.push({ section: name, error: problem });
  } catch (error) {
    if (tty) process.stderr.write('\n');
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`  FAILED ${name}: ${message}\n`);
    failures.push({ section: name, error: message });
  }
}

process.stderr.write(
  `dogpile bench (${quick ? 'quick smoke run' : 'full run'}): node ${machine.node}, ${machine.cpu}, ${machine.cores} cores\n`,
);

const dir = mkdtempSync(join(tmpdir(), 'dogpile-bench-'));
const sqlite: Store = { kind: 'sqlite', filename: join(dir, 'cache.db') };
let server: RedisServer | undefined;
let pool: ChildPool | undefined;
/** Removes the temporary directory even if the run is cut short. */
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// On a signal, exit through process.exit so the 'exit' hooks run: the one above, the child
// pool's (kills the children) and the test-servers' (kills redis-server).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}
// A hang (a peer waiting forever on a reply) must fail CI rather than stall it.
setTimeout(() => {
  process.stderr.write(
    `\n  FAILED: the run took longer than ${settings.watchdogMinutes} minutes\n`,
  );
  process.exit(1);
}, settings.watchdogMinutes * 60_000).unref();

try {
  await section('memory hit path', (onProgress) =>
    memoryHit({ ...settings.memoryHit, onProgress }),
  );
  await section('memory hit path by key set size', (onProgress) =>
    memoryHitSizes({ ...settings.memoryHitSizes, onProgress }),
  );
  await section('stampede, 1 process', (onProgress) =>
    stampedeInProcess({ ...settings.stampedeInProcess, onProgress }),
  );
  await section('stampede, 1 process, cost per caller', (onProgress) =>
    stampedeCurve({ ...settings.stampedeCurve, onProgress }),
  );
  await section('getMulti, memory', (onProgress) =>
    getMulti({ kind: 'memory' }, { ...settings.getMulti, onProgress }),
  );
  for (const mode of ['warm', 'cold'] as const) {
    await section(`getOrCreateMulti, memory, ${mode}`, (onProgress) =>
      getOrCreateMulti(mode, { ...settings.getOrCreateMulti, onProgress }),
    );
  }
  await section('proxies, memory hit path', (onProgress) =>
    proxiesMemoryHit({ ...settings.memoryHit, onProgress }),
  );

  try {
    server = await startRedis();
  } catch (error) {
    failures.push({ section: 'redis-server', error: String(error) });
    process.stderr.write(`  FAILED to start redis-server, Redis cases skipped: ${error}\n`);
  }
  const redis: Store | undefined = server && { kind: 'redis', url: server.url };
  if (redis?.kind === 'redis') {
    for (const inFlight of [1, 64]) {
      await section(`redis hit path, ${inFlight} in flight`, (onProgress) =>
        redisHit(redis.url, inFlight, { ...settings.redisHit[inFlight === 1 ? 0 : 1], onProgress }),
      );
    }
    await section('proxies, tiered over redis', (onProgress) =>
      proxiesRedisHit(redis.url, { ...settings.redisHit[0], onProgress }),
    );
    await section('getMulti, redis', (onProgress) =>
      getMulti(redis, { ...settings.getMulti, ...settings.getMultiRemote, onProgress }),
    );
  }
  await section('getMulti, sqlite', (onProgress) =>
    getMulti(sqlite, { ...settings.getMulti, ...settings.getMultiRemote, onProgress }),
  );

  // The cross-process stampedes share one set of children, started once for both stores.
  const stores = [...(redis ? [redis] : []), sqlite];
  try {
    // Create the SQLite file and every contender's table before the children open it together.
    const prepared = await contendersOn(sqlite);
    try {
      await Promise.all(prepared.contenders.map((c) => c.getOrCreate('prepare', async () => 1)));
    } finally {
      await closeAll(prepared.contenders);
    }
    progress('stampede, processes')(`starting ${settings.processes} child processes`);
    const args: ChildArgs = { stores, callers: settings.stampedeProcesses.callers };
    pool = await ChildPool.start(
      new URL('./stampede-child.ts', import.meta.url),
      settings.processes,
      args,
    );
  } catch (error) {
    failures.push({ section: 'stampede children', error: String(error) });
    process.stderr.write(`  FAILED to start the stampede children: ${error}\n`);
  }
  if (pool) {
    const children = pool;
    for (const store of stores) {
      await section(`stampede, ${children.size} processes, ${store.kind}`, (onProgress) =>
        stampedeProcesses(children, store.kind, { ...settings.stampedeProcesses, onProgress }),
      );
    }
  }
  // The same stampede as the first work of freshly started processes (a deploy), dogpile only.
  for (const store of stores) {
    await section(`stampede, ${settings.processes} fresh processes, ${store.kind}`, (onProgress) =>
      stampedeFresh(store, {
        processes: settings.processes,
        callers: settings.stampedeProcesses.callers,
        creatorMs: settings.stampedeProcesses.creatorMs,
        rounds: settings.stampedeFresh.rounds,
        onProgress,
      }),
    );
  }

  // Files: one directory shared by every process, no server.
  await section('file hit path', (onProgress) =>
    fileHit({ ...FILE_HIT_SETTINGS[quick ? 'quick' : 'full'], onProgress }),
  );
  await section(`stampede, ${settings.processes} processes, files`, (onProgress) =>
    fileStampede(settings.processes, { ...settings.stampedeProcesses, onProgress }),
  );
  await memcachedSections();
} finally {
  await pool?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** The Memcached cases, on a server of their own (skipped, as a failure, without memcached). */
async function memcachedSections(): Promise<void> {
  let memcached: MemcachedServer | undefined;
  try {
    memcached = await startMemcached();
  } catch (error) {
    failures.push({ section: 'memcached', error: String(error) });
    process.stderr.write(`  FAILED to start memcached, Memcached cases skipped: ${error}\n`);
    return;
  }
  try {
    const servers = memcached.address;
    const hit = MEMCACHED_HIT_SETTINGS[quick ? 'quick' : 'full'];
    for (const [i, inFlight] of [1, 64].entries()) {
      await section(`memcached hit path, ${inFlight} in flight`, (onProgress) =>
        memcachedHit(servers, inFlight, { ...hit[i]!, onProgress }),
      );
    }
    const stampede = MEMCACHED_STAMPEDE_SETTINGS[quick ? 'quick' : 'full'];
    let pending: Promise<Group[]> | undefined;
    const both = (onProgress: (message: string) => void) =>
      (pending ??= memcachedStampede(servers, stampede, onProgress));
    await section('stampede, processes, memcached (warm)', async (p) => (await both(p))[0]!);
    await section('stampede, processes, memcached (fresh)', async (p) => (await both(p))[1]!);
  } finally {
    await memcached.stop();
  }
}

const seconds = (performance.now() - started) / 1000;
const out = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'bench-results',
  `${quick ? 'quick' : 'full'}.json`,
);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), machine, quick, seconds, settings, groups, failures }, null, 2)}\n`,
);
console.log(`\nJSON: ${out} (${seconds.toFixed(0)} s)`);

if (failures.length > 0) {
  console.error(`\n${failures.length} failure(s):`);
  for (const f of failures) console.error(`  ${f.section}: ${f.error.split('\n')[0]}`);
}
// Exit explicitly: a connection a library failed to close must not keep CI waiting.
process.exit(failures.length > 0 ? 1 : 0);
