import * as path from 'node:path';
import { makeRegion } from '@dogpile/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../src/index.js';
import { eventually, runFixture, sleep, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const open: SqliteBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
});

function regionOn(file: string) {
  const backend = new SqliteBackend({ filename: file });
  open.push(backend);
  return makeRegion({ tagCacheTime: '50ms' }).configure(backend, { expirationTime: 600 });
}

describe('tags across processes on SQLite', () => {
  it('a hard invalidateTags in another process makes this one regenerate the tagged values within tagCacheTime', async () => {
    const file = path.join(tempDir(), 'tags.db');
    const region = regionOn(file);
    expect(await region.getOrCreate('post:1', () => 'v1', { tags: ['user:7'] })).toBe('v1');
    expect(await region.getOrCreate('post:2', () => 'w1', { tags: ['user:8'] })).toBe('w1');
    expect(await region.getOrCreate('post:1', () => 'v2')).toBe('v1');
    expect(
      await runFixture('tag-child.mjs', { filename: file, tags: ['user:7'], hard: true }),
    ).toBe(0);
    expect(
      await eventually(
        async () => (await region.getOrCreate('post:1', () => 'v2')) === 'v2',
        3_000,
      ),
    ).toBe(true);
    expect(await region.getOrCreate('post:2', () => 'w2')).toBe('w1');
  });

  it('a soft one makes them stale: one caller regenerates, the others get the old value at once', async () => {
    const file = path.join(tempDir(), 'tags.db');
    const region = regionOn(file);
    await region.getOrCreate('post:1', () => 'old', { tags: ['user:7'] });
    expect(
      await runFixture('tag-child.mjs', { filename: file, tags: ['user:7'], hard: false }),
    ).toBe(0);
    await sleep(60); // past tagCacheTime: the next hit reads the times
    let runs = 0;
    const slow = async () => {
      runs++;
      await sleep(100);
      return 'new';
    };
    const started = performance.now();
    const values = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const value = await region.getOrCreate('post:1', slow, { tags: ['user:7'] });
        return { value, ms: performance.now() - started };
      }),
    );
    expect(runs).toBe(1);
    expect(values.map((v) => v.value).sort()).toEqual(['new', 'old', 'old', 'old', 'old']);
    for (const { value, ms } of values) if (value === 'old') expect(ms).toBeLessThan(90);
    expect(await region.getOrCreate('post:1', slow)).toBe('new');
  });
});
