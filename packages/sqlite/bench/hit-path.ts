/**
 * What the SQLite backend costs, measured in one run on one file:
 * - a hit through `region.getOrCreate` next to a raw better-sqlite3 prepared `get` of the same row
 *   (the target is at most 2x), and
 * - every backend and mutex operation, since better-sqlite3 blocks the event loop for each.
 *
 * Run: pnpm exec tsx bench/hit-path.ts  (from packages/sqlite; needs @dogpile/core built)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeRegion } from '@dogpile/core';
import { SqliteBackend } from '../src/index.js';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const ITERATIONS = Number(process.env.ITERATIONS ?? 20_000);

/** Median ns per call of `fn` over ROUNDS rounds of `iterations` awaited calls. */
async function measure(fn: () => unknown, iterations = ITERATIONS): Promise<number> {
  const perRound: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    perRound.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(perRound.length / 2)]!;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dogpile-sqlite-bench-'));
const backend = new SqliteBackend({ filename: path.join(dir, 'bench.db') });
const region = makeRegion({ name: 'bench' }).configure(backend, { expirationTime: 3600 });
const payload = {
  id: 42,
  name: 'user-42',
  email: 'user-42@example.com',
  roles: ['reader', 'writer'],
};
const creator = async () => payload;

try {
  await region.getOrCreate('user:42', creator);
  const raw = backend.database.prepare('SELECT value FROM "dogpile_cache" WHERE key = ?');
  if (raw.get('user:42') === undefined) throw new Error('the warm-up value was not stored');
  if (
    (await region.getOrCreate('user:42', creator)) !== payload &&
    !(await region.get('user:42'))
  ) {
    throw new Error('the hit path returned nothing');
  }

  // Interleave the two so that CPU frequency and GC drift hit both alike.
  const rawRuns: number[] = [];
  const hitRuns: number[] = [];
  for (let pass = 0; pass < 3; pass++) {
    rawRuns.push(await measure(() => raw.get('user:42')));
    hitRuns.push(await measure(() => region.getOrCreate('user:42', creator)));
  }
  const rawNs = Math.min(...rawRuns);
  const hitNs = Math.min(...hitRuns);

  const bytes = new TextEncoder().encode(
    `{"ct":${Date.now() / 1000},"v":2}|${JSON.stringify(payload)}`,
  );
  const keys10 = Array.from({ length: 10 }, (_, i) => `multi:${i}`);
  const map10 = new Map(keys10.map((key) => [key, bytes] as const));
  await backend.setSerializedMulti(map10);
  const cached = await backend.get('user:42');
  let n = 0;
  const mutexA = backend.getMutex('lock:a')!;
  const mutexB = backend.getMutex('lock:a')!;
  await mutexB.acquire(false);

  const ops: Array<[string, () => unknown, number?]> = [
    ['backend.getSerialized (hit)', () => backend.getSerialized('user:42')],
    ['backend.getSerialized (miss)', () => backend.getSerialized('missing')],
    ['backend.get (hit, deserialized)', () => backend.get('user:42')],
    ['backend.getSerializedMulti (10 keys)', () => backend.getSerializedMulti(keys10)],
    ['backend.setSerialized', () => backend.setSerialized(`set:${n++ % 1000}`, bytes), 5000],
    ['backend.set (serialized)', () => backend.set(`set:${n++ % 1000}`, cached as never), 5000],
    ['backend.setSerializedMulti (10 keys)', () => backend.setSerializedMulti(map10), 2000],
    ['backend.delete', () => backend.delete(`set:${n++ % 1000}`), 5000],
    ['backend.deleteMulti (10 keys)', () => backend.deleteMulti(keys10), 2000],
    [
      'getMutex + acquire(false) + release',
      async () => {
        const mutex = backend.getMutex('lock:b')!;
        await mutex.acquire(false);
        await mutex.release();
      },
      5000,
    ],
    ['acquire(false), lock held elsewhere', () => mutexA.acquire(false), 5000],
    ['mutex.locked()', () => mutexA.locked()],
    [
      'region.getOrCreate (miss: create + store)',
      async () => {
        await region.getOrCreate(`miss:${n++}`, creator);
      },
      5000,
    ],
  ];

  const rows: Array<[string, number]> = [];
  for (const [name, fn, iterations] of ops)
    rows.push([name, await measure(fn, iterations ?? ITERATIONS)]);
  await mutexB.release();

  // prune: fill 10 000 expired rows, then time one prune() call.
  const expiredAt = Date.now() - 1000;
  const fill = backend.database.prepare(
    'INSERT OR REPLACE INTO "dogpile_cache" (key, value, expires_at) VALUES (?, ?, ?)',
  );
  backend.database.transaction(() => {
    for (let i = 0; i < 10_000; i++) fill.run(`old:${i}`, bytes, expiredAt);
  })();
  const pruneStart = process.hrtime.bigint();
  const pruned = await backend.prune();
  const pruneMs = Number(process.hrtime.bigint() - pruneStart) / 1e6;

  // Opening with the integrity check, on a file of 100 000 small rows.
  const bigFile = path.join(dir, 'big.db');
  const big = new SqliteBackend({ filename: bigFile });
  const bigFill = big.database.prepare(
    'INSERT INTO "dogpile_cache" (key, value, expires_at) VALUES (?, ?, NULL)',
  );
  big.database.transaction(() => {
    for (let i = 0; i < 100_000; i++) bigFill.run(`k:${i}`, bytes);
  })();
  await big.close();
  const openMs = (integrityCheck: boolean) => {
    const start = process.hrtime.bigint();
    const b = new SqliteBackend({ filename: bigFile, integrityCheck });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    void b.close();
    return ms;
  };
  openMs(true);
  const openChecked = Math.min(openMs(true), openMs(true), openMs(true));
  const openUnchecked = Math.min(openMs(false), openMs(false), openMs(false));

  const fmt = (ns: number) => `${ns.toFixed(0).padStart(7)} ns/op`;
  console.log(`node ${process.version}, better-sqlite3 on ${os.cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(
    `value: ${bytes.length} bytes; ${ROUNDS} rounds x ${ITERATIONS} calls, median of each round set, best of 3 passes\n`,
  );
  console.log('hit path');
  console.log(`  raw better-sqlite3 prepared get      ${fmt(rawNs)}`);
  console.log(`  region.getOrCreate hit (SqliteBackend) ${fmt(hitNs)}`);
  console.log(
    `  ratio                                ${(hitNs / rawNs).toFixed(2)}x (target <= 2x)\n`,
  );
  console.log('cost of each operation (time the event loop is blocked, plus the await)');
  for (const [name, ns] of rows) console.log(`  ${name.padEnd(44)} ${fmt(ns)}`);
  console.log(
    `  ${'prune() of 10 000 expired rows'.padEnd(44)} ${pruneMs.toFixed(1).padStart(7)} ms (${pruned} rows)`,
  );
  console.log(
    `  ${'open, 100 000 rows, integrityCheck on'.padEnd(44)} ${openChecked.toFixed(1).padStart(7)} ms`,
  );
  console.log(
    `  ${'open, 100 000 rows, integrityCheck off'.padEnd(44)} ${openUnchecked.toFixed(1).padStart(7)} ms`,
  );
} finally {
  await region.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
