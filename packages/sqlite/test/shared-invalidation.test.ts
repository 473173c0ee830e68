import * as path from 'node:path';
import { BackendInvalidationStrategy, type Duration, makeRegion } from '@dogpile/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../src/index.js';
import { eventually, runFixture, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const open: SqliteBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
});

/** A region over its own SqliteBackend on `file`, its invalidation shared through the file. */
function processOn(file: string, cacheTime: Duration) {
  const backend = new SqliteBackend({ filename: file });
  open.push(backend);
  const strategy = new BackendInvalidationStrategy({ cacheTime });
  const region = makeRegion({ name: 'reports' }).configure(backend, {
    expirationTime: 600,
    regionInvalidator: strategy,
  });
  return { region, strategy };
}

describe('BackendInvalidationStrategy over SQLite', () => {
  it('makes invalidate() through one SqliteBackend hold for another on the same file', async () => {
    const file = path.join(tempDir(), 'shared.db');
    const a = processOn(file, '50ms');
    const b = processOn(file, '50ms');
    expect(await b.region.getOrCreate('day:1', () => 'v1')).toBe('v1');
    await a.region.invalidate();
    // Within about cacheTime (50 ms) plus a read, b regenerates instead of serving v1.
    expect(
      await eventually(
        async () => (await b.region.getOrCreate('day:1', () => 'v2')) === 'v2',
        3_000,
      ),
    ).toBe(true);
    expect(await a.region.getOrCreate('day:1', () => 'v3')).toBe('v2');
  });

  it('shares soft invalidation: the other instance regenerates once, serving the old value meanwhile', async () => {
    const file = path.join(tempDir(), 'shared.db');
    const a = processOn(file, '50ms');
    const b = processOn(file, '50ms');
    await b.region.getOrCreate('day:1', () => 'old');
    await a.region.invalidate({ hard: false });
    expect(
      await eventually(async () => {
        await b.strategy.refresh();
        return b.strategy.wasSoftInvalidated();
      }, 3_000),
    ).toBe(true);
    expect(await b.region.getOrCreate('day:1', () => 'new')).toBe('new');
  });

  it('holds across processes: a child process invalidates, this one sees it', async () => {
    const file = path.join(tempDir(), 'shared.db');
    const here = processOn(file, '50ms');
    expect(await here.region.getOrCreate('day:1', () => 'before')).toBe('before');
    expect(
      await runFixture('invalidate-child.mjs', { filename: file, region: 'reports', hard: true }),
    ).toBe(0);
    expect(
      await eventually(
        async () => (await here.region.getOrCreate('day:1', () => 'after')) === 'after',
        3_000,
      ),
    ).toBe(true);
  });
});
