import * as path from 'node:path';
import { makeRegion } from '@dogpile/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../src/index.js';
import { sleep, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const open: SqliteBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
});

/** A region over its own backend on `file`: another process, as far as the lock is concerned. */
function processOn(file: string) {
  const backend = new SqliteBackend({ filename: file });
  open.push(backend);
  return makeRegion({ softTimeout: '50ms' }).configure(backend, { expirationTime: 0.2 });
}

describe('softTimeout with the distributed lock', () => {
  it('the regeneration that went on in the background keeps the lock: the other process serves the stale value, one creation in all', async () => {
    const file = path.join(tempDir(), 'cache.db');
    const a = processOn(file);
    const b = processOn(file);
    await a.getOrCreate('k', () => 'old');
    await sleep(250); // stale for both
    let runs = 0;
    let finish!: (value: string) => void;
    const slow = () => {
      runs++;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    };
    expect(await a.getOrCreate('k', slow)).toBe('old'); // past softTimeout: stale
    expect(await b.keyIsLocked('k')).toBe(true);
    expect(await b.getOrCreate('k', slow)).toBe('old'); // held in "process" a: stale at once
    expect(runs).toBe(1);
    finish('new');
    await sleep(50);
    expect(await b.getOrCreate('k', slow)).toBe('new');
    expect(runs).toBe(1);
    expect(await b.keyIsLocked('k')).toBe(false);
  });
});
