import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeRegion, NO_VALUE } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { FileBackend, FileLocks } from '../src/index.js';
import { decodeValueFile } from '../src/value-file.js';
import { sleep, spawnLineChild, useTempDirs } from './helpers.js';

const HOLDER = fileURLToPath(new URL('./fixtures/holder-child.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer-loop-child.mjs', import.meta.url));
const EXITER = fileURLToPath(new URL('./fixtures/exit-child.mjs', import.meta.url));
const tempDir = useTempDirs();

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const MiB = 1024 * 1024;

function fileOf(directory: string, key: string): string {
  const hash = sha256(key);
  return path.join(directory, hash.slice(0, 2), hash.slice(2, 4), hash);
}

/** What is at `file` now: nothing, a whole value (1 MiB of one byte), or a torn one. */
function inspect(file: string): 'none' | 'whole' | string {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return 'none';
  }
  const decoded = decodeValueFile(data);
  if (!decoded.ok) return `torn file (${decoded.reason}, ${data.length} bytes)`;
  const { value } = decoded;
  if (value.length !== MiB || value.some((byte) => byte !== value[0])) return 'torn value';
  return 'whole';
}

/**
 * Kills a child writing 1 MiB values in a loop at random points, reading the file while it writes
 * and after each kill. Returns every torn observation.
 */
async function killWriterRepeatedly(
  directory: string,
  mode: 'atomic' | 'in-place',
  rounds: number,
  syncIO = true,
): Promise<{ torn: string[]; reads: number }> {
  const key = 'big';
  const file = fileOf(directory, key);
  const torn: string[] = [];
  let reads = 0;
  const reader = new FileBackend({ directory, distributedLock: false });
  for (let round = 0; round < rounds; round++) {
    const child = spawnLineChild(WRITER, { directory, key, mode, path: file, syncIO });
    await child.line('ready');
    const until = Date.now() + 20 + Math.random() * 150;
    while (Date.now() < until) {
      const seen = inspect(file);
      reads++;
      if (seen !== 'none' && seen !== 'whole') torn.push(`round ${round}, while writing: ${seen}`);
      await sleep(Math.random() * 3);
    }
    await child.kill();
    const seen = inspect(file);
    reads++;
    if (seen !== 'none' && seen !== 'whole') torn.push(`round ${round}, after SIGKILL: ${seen}`);
    // Through the backend: a whole value or a miss, never anything else.
    const value = await reader.getSerialized(key);
    if (value !== NO_VALUE) {
      const bytes = value as Uint8Array;
      if (bytes.length !== MiB || bytes.some((byte) => byte !== bytes[0])) {
        torn.push(`round ${round}: the backend returned a torn value`);
      }
    }
  }
  await reader.close();
  return { torn, reads };
}

describe('FileBackend: a writer SIGKILLed mid-write', () => {
  it('with async writes (syncIO: false) too', async () => {
    const { torn } = await killWriterRepeatedly(tempDir(), 'atomic', 3, false);
    expect(torn).toEqual([]);
  });

  it('leaves the old value or the new one, never a torn one (1 MiB values, 6 random kills)', async () => {
    const directory = tempDir();
    const { torn, reads } = await killWriterRepeatedly(directory, 'atomic', 6);
    expect(torn).toEqual([]);
    expect(reads).toBeGreaterThan(6);
    // What the kills left behind is only temporary files, which prune() removes once old.
    const backend = new FileBackend({ directory });
    const shard = path.dirname(fileOf(directory, 'big'));
    const temps = fs.readdirSync(shard).filter((name) => name.endsWith('.tmp'));
    const old = (Date.now() - 120_000) / 1000;
    for (const name of temps) fs.utimesSync(path.join(shard, name), old, old);
    expect((await backend.prune()).temporary).toBe(temps.length);
    expect(fs.readdirSync(shard)).toEqual([sha256('big')]);
    await backend.close();
  });

  it('the same check catches torn files when a writer writes in place (no temporary file and rename)', async () => {
    const directory = tempDir();
    const { torn } = await killWriterRepeatedly(directory, 'in-place', 4);
    expect(torn.length).toBeGreaterThan(0);
  });
});

describe('FileBackend: a lock holder SIGKILLed', () => {
  const lockTimeout = 0.6;

  async function holder(directory: string, mode: 'hold' | 'create') {
    const child = spawnLineChild(HOLDER, { directory, key: 'k', lockTimeout, mode });
    await child.line(mode === 'hold' ? 'locked' : 'creating');
    return child;
  }

  for (const mode of ['hold', 'create'] as const) {
    const when = mode === 'hold' ? 'after taking the lock' : 'mid-creation';
    it(`${when}: its lease stays fresh while it lives, and a waiter creates once it expired`, async () => {
      const directory = tempDir();
      const child = await holder(directory, mode);
      const backend = new FileBackend({ directory, lockTimeout });
      const region = makeRegion().configure(backend, { expirationTime: 60 });
      let created = 0;
      let createdAt = 0;
      const waiting = region.getOrCreate('k', () => {
        created++;
        createdAt = performance.now();
        return 'by the waiter';
      });
      // Twice the lease: the living holder extends it, so nobody else creates.
      await sleep(lockTimeout * 2000);
      expect(created).toBe(0);
      await child.kill();
      const killedAt = performance.now();
      expect(await waiting).toBe('by the waiter');
      expect(created).toBe(1);
      // Its last extension was at most lockTimeout / 3 before the kill.
      const after = createdAt - killedAt;
      expect(after).toBeGreaterThan(lockTimeout * 1000 * (2 / 3) - 100);
      expect(after).toBeLessThan(lockTimeout * 1000 + 1000);
      await region.close();
    });
  }

  it('after writing the value: waiters get it at once, not after its lock TTL', async () => {
    const directory = tempDir();
    const child = spawnLineChild(HOLDER, { directory, key: 'k', lockTimeout: 5, mode: 'hold' });
    await child.line('locked');
    const backend = new FileBackend({ directory, lockTimeout: 5 });
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    let ran = 0;
    const waiting = region.getOrCreate('k', () => {
      ran++;
      return 'created by a waiter';
    });
    await sleep(200);
    child.process.stdin!.write('write\n');
    await child.line('written');
    const writtenAt = performance.now();
    await child.kill();
    expect(await waiting).toBe('from the dead holder');
    const waited = performance.now() - writtenAt;
    expect(ran).toBe(0);
    // lockPollMax is 100 ms with watching (the value write itself wakes nobody); far below 5 s.
    expect(waited).toBeLessThan(1000);
    expect(await backend.getMutex('k')!.locked()).toBe(true);
    await region.close();
  });
});

describe('FileLocks: a holder that exits without releasing', () => {
  for (const how of ['exit', 'throw'] as const) {
    it(`${how === 'exit' ? 'process.exit()' : 'an uncaught exception'}: its locks are given back at once, not after lockTimeout (30 s)`, async () => {
      const lockDirectory = path.join(tempDir(), 'locks');
      const child = spawnLineChild(EXITER, { lockDirectory, key: 'k', how });
      await child.line('locked');
      const locks = new FileLocks({ lockDirectory });
      expect(await locks.mutex('k').locked()).toBe(true);
      const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
      child.process.stdin!.write('go\n');
      await exited;
      expect(await locks.mutex('k').acquire(false)).toBe(true);
      await locks.close();
    });
  }
});
