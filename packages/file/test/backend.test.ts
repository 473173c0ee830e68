import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeRegion, NO_VALUE } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { FileBackend, FileBackendError } from '../src/index.js';
import { makeReadOnly, makeWritable, sleep, useErrorEvents, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const errors = useErrorEvents();

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | typeof NO_VALUE) =>
  value === NO_VALUE ? NO_VALUE : new TextDecoder().decode(value as Uint8Array);

function fileOf(directory: string, key: string): string {
  const hash = sha256(key);
  return path.join(directory, hash.slice(0, 2), hash.slice(2, 4), hash);
}

describe('FileBackend: layout and atomic writes', () => {
  for (const syncIO of [true, false]) {
    it(`stores a key in <dir>/<h[0..2]>/<h[2..4]>/<sha256 hex>, with no temporary file left (syncIO: ${syncIO})`, async () => {
      const directory = tempDir();
      const backend = new FileBackend({ directory, syncIO });
      await backend.setSerialized('user:1/../x', bytes('hello'));
      const file = fileOf(directory, 'user:1/../x');
      expect(fs.existsSync(file)).toBe(true);
      expect(fs.readdirSync(path.dirname(file))).toEqual([path.basename(file)]);
      expect(text(await backend.getSerialized('user:1/../x'))).toBe('hello');
      expect(await backend.getSerialized('other')).toBe(NO_VALUE);
      await backend.delete('user:1/../x');
      await backend.delete('user:1/../x');
      expect(await backend.getSerialized('user:1/../x')).toBe(NO_VALUE);
      await backend.close();
    });
  }

  it('a region on it stores, reads back and regenerates values; getMulti/setMulti work', async () => {
    const directory = tempDir();
    const region = makeRegion().configure(new FileBackend({ directory }), {
      expirationTime: 60,
    });
    let runs = 0;
    expect(await region.getOrCreate('k', () => ({ runs: ++runs }))).toEqual({ runs: 1 });
    expect(await region.getOrCreate('k', () => ({ runs: ++runs }))).toEqual({ runs: 1 });
    await region.setMulti({ a: 1, b: [2] });
    expect(await region.getMulti(['a', 'b', 'c'])).toEqual([1, [2], NO_VALUE]);
    await region.deleteMulti(['a', 'b']);
    expect(await region.getMulti(['a', 'b'])).toEqual([NO_VALUE, NO_VALUE]);
    await region.close();
  });
});

for (const syncIO of [true, false]) {
  describe(`FileBackend: damaged files are a miss, never a wrong value (syncIO: ${syncIO})`, () => {
    const cases: Array<[string, (file: string) => void]> = [
      ['truncated', (file) => fs.truncateSync(file, fs.statSync(file).size - 3)],
      ['cut to its header', (file) => fs.truncateSync(file, 10)],
      ['empty', (file) => fs.writeFileSync(file, '')],
      [
        'one flipped byte',
        (file) => {
          const data = fs.readFileSync(file);
          data[data.length - 2]! ^= 0x01;
          fs.writeFileSync(file, data);
        },
      ],
      ['foreign bytes', (file) => fs.writeFileSync(file, '{"ct":1,"v":2}|"not ours"')],
      [
        'a directory in its place',
        (file) => {
          fs.rmSync(file);
          fs.mkdirSync(file);
        },
      ],
    ];
    for (const [what, damage] of cases) {
      it(`${what}: the region regenerates the value`, async () => {
        const directory = tempDir();
        const backend = new FileBackend({ directory, syncIO });
        const region = makeRegion().configure(backend, { expirationTime: 60 });
        await region.set('k', 'the real value');
        damage(fileOf(directory, 'k'));
        expect(await backend.getSerialized('k')).toBe(NO_VALUE);
        if (what === 'a directory in its place') {
          // Unreadable, so a miss; it cannot be overwritten either, and says so with a typed error.
          await expect(region.getOrCreate('k', () => 'regenerated')).rejects.toBeInstanceOf(
            FileBackendError,
          );
        } else {
          expect(await region.getOrCreate('k', () => 'regenerated')).toBe('regenerated');
          expect(await region.get('k')).toBe('regenerated');
        }
        await region.close();
      });
    }

    it('a damaged file is reported once until reads work again, not once per read', async () => {
      const directory = tempDir();
      const backend = new FileBackend({ directory, syncIO });
      await backend.setSerialized('k', bytes('value'));
      fs.truncateSync(fileOf(directory, 'k'), 26);
      for (let i = 0; i < 5; i++) expect(await backend.getSerialized('k')).toBe(NO_VALUE);
      const reports = errors.filter((event) => event.operation === 'fileRead');
      expect(reports).toHaveLength(1);
      expect((reports[0]!.error as FileBackendError).message).toMatch(/truncated or damaged/);
      await backend.setSerialized('k', bytes('value'));
      expect(text(await backend.getSerialized('k'))).toBe('value');
      fs.truncateSync(fileOf(directory, 'k'), 26);
      expect(await backend.getSerialized('k')).toBe(NO_VALUE);
      expect(errors.filter((event) => event.operation === 'fileRead')).toHaveLength(2);
      await backend.close();
    });
  });
}

describe('FileBackend: fileExpirationTime and prune()', () => {
  it('a value is a miss once fileExpirationTime has passed', async () => {
    const directory = tempDir();
    const backend = new FileBackend({ directory, fileExpirationTime: '150ms' });
    await backend.setSerialized('k', bytes('v'));
    expect(text(await backend.getSerialized('k'))).toBe('v');
    await sleep(200);
    expect(await backend.getSerialized('k')).toBe(NO_VALUE);
    await backend.close();
  });

  it('prune() removes expired values and old temporary files, and keeps fresh ones', async () => {
    const directory = tempDir();
    const shortLived = new FileBackend({ directory, fileExpirationTime: '100ms' });
    const forever = new FileBackend({ directory });
    await shortLived.setSerialized('expires', bytes('v'));
    await forever.setSerialized('stays', bytes('v'));
    // Temporary files of writers killed mid-write: one old, one that may still be in progress.
    const shard = path.dirname(fileOf(directory, 'stays'));
    const oldTemp = path.join(shard, `${sha256('stays')}.dead.tmp`);
    const newTemp = path.join(shard, `${sha256('stays')}.busy.tmp`);
    fs.writeFileSync(oldTemp, 'partial');
    fs.writeFileSync(newTemp, 'partial');
    const old = (Date.now() - 120_000) / 1000;
    fs.utimesSync(oldTemp, old, old);
    await sleep(150);
    expect(await forever.prune()).toEqual({ expired: 1, temporary: 1, locks: 0 });
    expect(fs.existsSync(fileOf(directory, 'expires'))).toBe(false);
    expect(fs.existsSync(oldTemp)).toBe(false);
    expect(fs.existsSync(newTemp)).toBe(true);
    expect(text(await forever.getSerialized('stays'))).toBe('v');
    await shortLived.close();
    await forever.close();
  });

  it('pruneInterval prunes on a timer', async () => {
    const directory = tempDir();
    const backend = new FileBackend({
      directory,
      fileExpirationTime: '50ms',
      pruneInterval: '100ms',
    });
    await backend.setSerialized('k', bytes('v'));
    await sleep(300);
    expect(fs.existsSync(fileOf(directory, 'k'))).toBe(false);
    await backend.close();
  });
});

describe('FileBackend: directories', () => {
  it('a directory that does not exist, or a file, is ERR_FILE_DIRECTORY', () => {
    const directory = tempDir();
    expect(() => new FileBackend({ directory: path.join(directory, 'missing') })).toThrow(
      expect.objectContaining({ code: 'ERR_FILE_DIRECTORY', errno: 'ENOENT' }),
    );
    const file = path.join(directory, 'file');
    fs.writeFileSync(file, '');
    expect(() => new FileBackend({ directory: file })).toThrow(
      expect.objectContaining({ code: 'ERR_FILE_DIRECTORY' }),
    );
  });

  it('a read-only directory is ERR_FILE_NOT_WRITABLE at construction', (context) => {
    const directory = tempDir();
    const readOnly = makeReadOnly(directory);
    if ('skip' in readOnly) return context.skip(readOnly.skip);
    try {
      expect(() => new FileBackend({ directory })).toThrow(
        expect.objectContaining({ code: 'ERR_FILE_NOT_WRITABLE' }),
      );
    } finally {
      makeWritable(directory);
    }
  });

  it('a directory made read-only while in use: writes fail with ERR_FILE_NOT_WRITABLE, reads still hit, the region serves the creator', async (context) => {
    const directory = tempDir();
    const backend = new FileBackend({ directory, distributedLock: false });
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    await region.set('existing', 'kept');
    const shard = path.dirname(fileOf(directory, 'existing'));
    const readOnly = makeReadOnly(shard);
    if ('skip' in readOnly) return context.skip(readOnly.skip);
    try {
      await expect(backend.setSerialized('existing', bytes('x'))).rejects.toMatchObject({
        code: 'ERR_FILE_NOT_WRITABLE',
      });
      expect(await region.get('existing')).toBe('kept');
      await expect(backend.delete('existing')).rejects.toBeInstanceOf(FileBackendError);
    } finally {
      makeWritable(shard);
    }
    await region.close();
  });

  it('the cache directory removed while in use: reads miss, writes fail with ERR_FILE_DIRECTORY', async () => {
    const directory = path.join(tempDir(), 'cache');
    fs.mkdirSync(directory);
    const backend = new FileBackend({ directory, distributedLock: false });
    await backend.setSerialized('k', bytes('v'));
    fs.rmSync(directory, { recursive: true });
    expect(await backend.getSerialized('k')).toBe(NO_VALUE);
    await expect(backend.setSerialized('k', bytes('v'))).rejects.toMatchObject({
      code: 'ERR_FILE_DIRECTORY',
    });
    // It is not recreated behind the user's back.
    expect(fs.existsSync(directory)).toBe(false);
    await backend.close();
  });
});

describe('FileBackend: the cache directory removed under a backend with locks', () => {
  it('the lock fails with ERR_FILE_DIRECTORY instead of re-creating the directory', async () => {
    const directory = path.join(tempDir(), 'cache');
    fs.mkdirSync(directory);
    const region = makeRegion().configure(new FileBackend({ directory }), { expirationTime: 60 });
    fs.rmSync(directory, { recursive: true });
    await expect(region.getOrCreate('k', () => 'v')).rejects.toMatchObject({
      code: 'ERR_FILE_DIRECTORY',
    });
    expect(fs.existsSync(directory)).toBe(false);
    await region.close();
  });
});

describe('FileBackend: options, keys, close', () => {
  it('rejects unknown options with the known ones, and bad values', () => {
    const directory = tempDir();
    expect(() => new FileBackend({ directory, expirationTime: 5 } as never)).toThrow(
      /FileBackend has no option "expirationTime". Known options: directory, fileExpirationTime/,
    );
    expect(() => new FileBackend({} as never)).toThrow(/needs directory/);
    expect(() => new FileBackend({ directory, fileExpirationTime: 0 })).toThrow(/at least 1 ms/);
    expect(() => new FileBackend({ directory, fileExpirationTime: 'soon' as never })).toThrow();
    expect(() => new FileBackend({ directory, lockWatch: 1 } as never)).toThrow(/true or false/);
    expect(() => new FileBackend({ directory, serializer: {} } as never)).toThrow(/serializer/);
    expect(() => new FileBackend({ directory, keyMangler: 'x' } as never)).toThrow(/keyMangler/);
    expect(() => new FileBackend({ directory, lockTimeout: -5 })).toThrow(/lockTimeout/);
  });

  it('null options count as unset (as None in a config file); the lock directory defaults to <directory>/locks', async () => {
    const directory = tempDir();
    const backend = new FileBackend({ directory, fileExpirationTime: null } as never);
    expect(backend.locks?.lockDirectory).toBe(path.join(directory, 'locks'));
    expect(fs.existsSync(path.join(directory, 'locks'))).toBe(true);
    await backend.close();
    const unlocked = new FileBackend({ directory, distributedLock: false });
    expect(unlocked.getMutex('k')).toBeNull();
    await unlocked.close();
  });

  it('checks keys in every call', async () => {
    const backend = new FileBackend({ directory: tempDir() });
    const bad = 'x\uD800';
    await expect(backend.getSerialized(bad)).rejects.toThrow(/well-formed/);
    await expect(backend.getSerializedMulti(['ok', bad])).rejects.toThrow(/well-formed/);
    await expect(backend.setSerialized(bad, bytes('v'))).rejects.toThrow(/well-formed/);
    await expect(backend.setSerializedMulti(new Map([[bad, bytes('v')]]))).rejects.toThrow(
      /well-formed/,
    );
    await expect(backend.delete(bad)).rejects.toThrow(/well-formed/);
    await expect(backend.deleteMulti([bad])).rejects.toThrow(/well-formed/);
    expect(() => backend.getMutex(bad)).toThrow(/well-formed/);
    await expect(backend.getSerialized(7 as never)).rejects.toThrow(/strings/);
    await backend.close();
  });

  it('after close(), calls fail with ERR_FILE_CLOSED', async () => {
    const backend = new FileBackend({ directory: tempDir() });
    await backend.close();
    await backend.close();
    await expect(backend.getSerialized('k')).rejects.toMatchObject({ code: 'ERR_FILE_CLOSED' });
    await expect(backend.setSerialized('k', bytes('v'))).rejects.toMatchObject({
      code: 'ERR_FILE_CLOSED',
    });
    await expect(backend.getMutex('k')!.acquire()).rejects.toMatchObject({
      code: 'ERR_FILE_CLOSED',
    });
  });

  it('is registered as "file" for configureFromConfig', async () => {
    const directory = tempDir();
    const region = makeRegion();
    await region.configureFromConfig(
      {
        'cache.backend': 'file',
        'cache.expiration_time': '60',
        'cache.arguments.directory': directory,
        'cache.arguments.file_expiration_time': '3600',
      },
      'cache.',
    );
    expect(region.actualBackend).toBeInstanceOf(FileBackend);
    await region.set('k', 'v');
    expect(await region.get('k')).toBe('v');
    await region.close();
  });
});
