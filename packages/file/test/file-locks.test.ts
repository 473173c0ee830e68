import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type FileBackendError,
  FileLeaseStore,
  FileLockMutex,
  type FileLockOptions,
  FileLocks,
} from '../src/index.js';
import {
  eventually,
  makeReadOnly,
  makeWritable,
  sleep,
  useErrorEvents,
  useTempDirs,
} from './helpers.js';

const tempDir = useTempDirs();
const errors = useErrorEvents();

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

describe('FileLocks: layout', () => {
  it('a held lock is <sha256 of lockPrefix+key>.lock/<token>, whose mtime is the lease expiry', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const locks = new FileLocks({ lockDirectory, lockTimeout: 5, lockAutoExtend: false });
    expect(fs.existsSync(lockDirectory)).toBe(true);
    const mutex = locks.mutex('user:1/../é');
    expect(mutex).toBeInstanceOf(FileLockMutex);
    const before = Date.now();
    expect(await mutex.acquire(false)).toBe(true);
    const name = `${sha256('_lockuser:1/../é')}.lock`;
    expect(FileLeaseStore.entryName('_lockuser:1/../é')).toBe(name);
    expect(fs.readdirSync(lockDirectory)).toEqual([name]);
    const owners = fs.readdirSync(path.join(lockDirectory, name));
    expect(owners).toHaveLength(1);
    const { mtimeMs } = fs.statSync(path.join(lockDirectory, name, owners[0]!));
    expect(mtimeMs).toBeGreaterThanOrEqual(before + 5000 - 50);
    expect(mtimeMs).toBeLessThanOrEqual(Date.now() + 5000 + 50);
    await mutex.release();
    expect(fs.readdirSync(lockDirectory)).toEqual([]);
    await locks.close();
  });

  it('lockAutoExtend keeps the lease fresh while held: its expiry moves forward', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const locks = new FileLocks({ lockDirectory, lockTimeout: '300ms' });
    const mutex = locks.mutex('k');
    await mutex.acquire();
    await sleep(700);
    // Without extension it would have expired 400 ms ago; another instance cannot take it.
    const other = new FileLocks({ lockDirectory, lockTimeout: '300ms' });
    expect(await other.mutex('k').acquire(false)).toBe(false);
    expect(await other.mutex('k').locked()).toBe(true);
    await mutex.release();
    expect(await other.mutex('k').acquire(false)).toBe(true);
    await other.close();
    await locks.close();
  });
});

describe('FileLocks: waking waiters', () => {
  for (const lockWatch of [true, false]) {
    it(`a blocked acquire is woken ${lockWatch ? 'within milliseconds by fs.watch' : 'only by polling without lockWatch'}`, async () => {
      const lockDirectory = path.join(tempDir(), 'locks');
      // Polling alone would take 400-800 ms: only a watch explains a faster wake-up.
      const options: FileLockOptions = {
        lockDirectory,
        lockWatch,
        lockPollMin: '800ms',
        lockPollMax: '800ms',
      };
      const holder = new FileLocks(options);
      const waiter = new FileLocks(options);
      const held = holder.mutex('k');
      await held.acquire();
      const acquired = waiter.mutex('k').acquire();
      await sleep(100);
      const releasedAt = performance.now();
      await held.release();
      expect(await acquired).toBe(true);
      const latency = performance.now() - releasedAt;
      if (lockWatch) expect(latency).toBeLessThan(100);
      else expect(latency).toBeGreaterThan(150);
      await holder.close();
      await waiter.close();
    });
  }

  it('waitForRelease ends on the release, and the watch stops when nobody waits', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const options: FileLockOptions = { lockDirectory, lockPollMin: '1s', lockPollMax: '1s' };
    const a = new FileLocks(options);
    const b = new FileLocks(options);
    const held = a.mutex('k');
    await held.acquire();
    let done = false;
    const waiting = b
      .mutex('k')
      .waitForRelease()
      .then((result) => {
        done = true;
        return result;
      });
    // Other keys' locks and releases do not end it.
    const otherKey = a.mutex('other');
    await otherKey.acquire();
    await otherKey.release();
    await sleep(150);
    expect(done).toBe(false);
    const releasedAt = performance.now();
    await held.release();
    expect(await waiting).toBe(true);
    expect(performance.now() - releasedAt).toBeLessThan(100);
    await a.close();
    await b.close();
  });

  it('a take is not a release: its queued watch event does not end a waitForRelease', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const options: FileLockOptions = { lockDirectory, lockPollMin: '1s', lockPollMax: '1s' };
    const a = new FileLocks(options);
    const b = new FileLocks(options);
    // A waiter on another key keeps b's watch running, so the take below is queued for it.
    await a.mutex('x').acquire();
    const otherWait = b.mutex('x').waitForRelease();
    await sleep(20);
    await a.mutex('k').acquire();
    let done = false;
    const waiting = b
      .mutex('k')
      .waitForRelease()
      .then(() => {
        done = true;
      });
    await sleep(200);
    expect(done).toBe(false);
    await a.close();
    await waiting;
    await otherWait;
    await b.close();
  });

  it('lockBlockingTimeout bounds a blocking acquire, which then resolves false', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const a = new FileLocks({ lockDirectory });
    const b = new FileLocks({ lockDirectory, lockBlockingTimeout: '200ms' });
    await a.mutex('k').acquire();
    const started = performance.now();
    expect(await b.mutex('k').acquire()).toBe(false);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(600);
    await a.close();
    await b.close();
  });
});

describe('FileLocks: lost locks', () => {
  it('the lock directory removed under a holder: it learns the loss, new takers recreate it, and its release leaves the new holder alone', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const options: FileLockOptions = { lockDirectory, lockTimeout: '300ms' };
    const a = new FileLocks(options);
    const b = new FileLocks(options);
    const first = a.mutex('k');
    await first.acquire();
    fs.rmSync(lockDirectory, { recursive: true, force: true });
    // Its next extension (every 100 ms) finds its owner file gone.
    expect(
      await eventually(() =>
        errors.some((event) => (event.error as FileBackendError).code === 'ERR_FILE_LOCK_LOST'),
      ),
    ).toBe(true);
    expect(first.held).toBe(false);
    const second = b.mutex('k');
    expect(await second.acquire(false)).toBe(true);
    expect(fs.existsSync(lockDirectory)).toBe(true);
    await first.release();
    expect(await b.mutex('k').locked()).toBe(true);
    expect(second.held).toBe(true);
    await second.release();
    expect(await b.mutex('k').locked()).toBe(false);
    await a.close();
    await b.close();
  });

  it('waiters still wake after the watched directory was removed and recreated', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const options: FileLockOptions = { lockDirectory, lockPollMin: '5ms', lockPollMax: '100ms' };
    const a = new FileLocks(options);
    const b = new FileLocks(options);
    fs.rmSync(lockDirectory, { recursive: true, force: true });
    const held = a.mutex('k');
    expect(await held.acquire(false)).toBe(true);
    const acquired = b.mutex('k').acquire();
    await sleep(100);
    await held.release();
    expect(await acquired).toBe(true);
    await a.close();
    await b.close();
  });

  it('an extension after the lease expired is refused: the holder is told it lost the lock', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const locks = new FileLocks({ lockDirectory, lockTimeout: '100ms', lockAutoExtend: false });
    const mutex = locks.mutex('k');
    await mutex.acquire();
    await sleep(150);
    expect(await mutex.extend()).toBe(false);
    expect(mutex.held).toBe(false);
    await locks.close();
  });

  it('an expired lock of a dead holder is taken over; prune() removes dead locks and half-made takes', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const locks = new FileLocks({ lockDirectory, lockTimeout: '100ms', lockAutoExtend: false });
    await locks.mutex('dead').acquire();
    await locks.mutex('taken-over').acquire();
    // A take a killed process left half-done, a minute old.
    const orphan = path.join(lockDirectory, `${sha256('_lockx')}.token.tmp`);
    fs.mkdirSync(orphan);
    fs.writeFileSync(path.join(orphan, 'token'), '');
    const old = (Date.now() - 120_000) / 1000;
    fs.utimesSync(orphan, old, old);
    await sleep(150);
    const other = new FileLocks({ lockDirectory });
    const taker = other.mutex('taken-over');
    expect(await taker.acquire(false)).toBe(true);
    expect(await locks.prune()).toBe(2);
    expect(fs.readdirSync(lockDirectory)).toEqual([FileLeaseStore.entryName('_locktaken-over')]);
    expect(await taker.locked()).toBe(true);
    await other.close();
    await locks.close();
  });
});

describe('FileLocks: options', () => {
  it('rejects unknown options, listing the known ones, and bad values', () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    expect(() => new FileLocks({ lockDirectory, lockWatchh: true } as never)).toThrow(
      /no option "lockWatchh".*Known options: lockDirectory, lockWatch, lockTimeout/,
    );
    expect(() => new FileLocks({ lockDirectory, distributedLock: true } as never)).toThrow(
      /no option "distributedLock"/,
    );
    expect(() => new FileLocks({} as never)).toThrow(/needs lockDirectory/);
    expect(() => new FileLocks({ lockDirectory: '' })).toThrow(/non-empty path/);
    expect(() => new FileLocks({ lockDirectory, lockWatch: 'yes' } as never)).toThrow(
      /lockWatch must be true or false/,
    );
    expect(() => new FileLocks({ lockDirectory, lockTimeout: 0 })).toThrow(/more than 0/);
    expect(() => new FileLocks(null as never)).toThrow(/needs an options object/);
    expect(() => new FileLocks({ lockDirectory }).mutex(42 as never)).toThrow(/keys are strings/);
  });

  it('a lock directory made read-only: acquire fails at once with ERR_FILE_NOT_WRITABLE, and a held lock is still released', async (context) => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const locks = new FileLocks({ lockDirectory });
    const held = locks.mutex('held');
    await held.acquire();
    const readOnly = makeReadOnly(lockDirectory);
    if ('skip' in readOnly) return context.skip(readOnly.skip);
    try {
      await expect(locks.mutex('k').acquire()).rejects.toMatchObject({
        code: 'ERR_FILE_NOT_WRITABLE',
      });
      // Its owner file lives in its own lock directory, which is still writable.
      await held.release();
      expect(await locks.mutex('held').locked()).toBe(false);
    } finally {
      makeWritable(lockDirectory);
    }
    await locks.close();
  });

  it('a lock directory that cannot be created is a typed error', () => {
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, '');
    expect(() => new FileLocks({ lockDirectory: path.join(file, 'locks') })).toThrow(
      expect.objectContaining({ code: 'ERR_FILE_DIRECTORY' }),
    );
  });

  it('after close(), waiters fail with ERR_FILE_CLOSED and held locks are given back', async () => {
    const lockDirectory = path.join(tempDir(), 'locks');
    const a = new FileLocks({ lockDirectory });
    const b = new FileLocks({ lockDirectory });
    await b.mutex('held').acquire();
    await a.mutex('k').acquire();
    const waiting = expect(a.mutex('held').acquire()).rejects.toMatchObject({
      code: 'ERR_FILE_CLOSED',
    });
    await sleep(20);
    await a.close();
    await waiting;
    expect(await b.mutex('k').locked()).toBe(false);
    await expect(a.mutex('k').acquire()).rejects.toMatchObject({ code: 'ERR_FILE_CLOSED' });
    await b.close();
  });
});
