import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import * as path from 'node:path';
import type { ErrorEvent, LeaseMutex } from '@dogpile/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteBackend, type SqliteBackendOptions, SqliteLeaseStore } from '../src/index.js';
import { eventually, sleep, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const open: SqliteBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
});

/** Two backends on one file, as two processes would have: separate connections. */
function pair(options: Partial<SqliteBackendOptions> = {}): [SqliteBackend, SqliteBackend] {
  const file = path.join(tempDir(), 'locks.db');
  const one = new SqliteBackend({ filename: file, ...options });
  const two = new SqliteBackend({ filename: file, ...options });
  open.push(one, two);
  return [one, two];
}

const lockRow = (backend: SqliteBackend, key: string) =>
  backend.database
    .prepare(`SELECT token, expires_at AS expiresAt FROM "${backend.table}_locks" WHERE key = ?`)
    .get(`_lock${key}`) as { token: string; expiresAt: number } | undefined;

describe('SqliteMutex', () => {
  it('excludes another connection until released', async () => {
    const [one, two] = pair();
    const a = one.getMutex('k')!;
    const b = two.getMutex('k')!;
    expect(await a.locked()).toBe(false);
    expect(await a.acquire(false)).toBe(true);
    expect(a.held).toBe(true);
    expect(await b.acquire(false)).toBe(false);
    expect(await b.locked()).toBe(true);
    expect(await a.locked()).toBe(true);
    await b.release(); // not held: does nothing to a's lock
    expect(await b.acquire(false)).toBe(false);
    await a.release();
    expect(a.held).toBe(false);
    expect(await b.locked()).toBe(false);
    expect(await b.acquire(false)).toBe(true);
    await b.release();
    expect(lockRow(one, 'k')).toBeUndefined();
  });

  it('locks per key, in a table of its own', async () => {
    const [one] = pair();
    const a = one.getMutex('k1')!;
    const b = one.getMutex('k2')!;
    expect(await a.acquire(false)).toBe(true);
    expect(await b.acquire(false)).toBe(true);
    expect(lockRow(one, 'k1')?.token).toMatch(/^[0-9a-f-]{36}$/);
    expect(lockRow(one, 'k1')?.token).not.toBe(lockRow(one, 'k2')?.token);
    expect(one.database.prepare(`SELECT count(*) FROM "${one.table}"`).pluck().get()).toBe(0);
    await a.release();
    await b.release();
  });

  it('is not reentrant: the holder itself cannot take it twice', async () => {
    const [one] = pair();
    const a = one.getMutex('k')!;
    expect(await a.acquire(false)).toBe(true);
    const token = lockRow(one, 'k')?.token;
    expect(await a.acquire(false)).toBe(false);
    expect(lockRow(one, 'k')?.token).toBe(token);
    // A blocking acquire by the holder would wait for itself: every backend refuses it alike.
    await expect(a.acquire(true)).rejects.toMatchObject({ code: 'ERR_LOCK_STATE' });
    expect(lockRow(one, 'k')?.token).toBe(token);
    await a.release();
    expect(await a.acquire(true)).toBe(true);
    expect(lockRow(one, 'k')?.token).not.toBe(token);
    await a.release();
  });

  it("a dead holder's lock expires after lockTimeout", async () => {
    const [one, two] = pair({ lockTimeout: '300ms', lockAutoExtend: false });
    const dead = one.getMutex('k')!;
    expect(await dead.acquire(false)).toBe(true);
    const takenAt = Date.now();
    const { expiresAt } = lockRow(one, 'k')!;
    expect(expiresAt - takenAt).toBeGreaterThanOrEqual(290);
    expect(expiresAt - takenAt).toBeLessThanOrEqual(310);
    const other = two.getMutex('k')!;
    expect(await other.acquire(false)).toBe(false);
    await sleep(expiresAt - Date.now() + 10);
    expect(await other.locked()).toBe(false);
    expect(await other.acquire(false)).toBe(true);
    await other.release();
  });

  it("a stale holder cannot release or extend the new owner's lock", async () => {
    const [one, two] = pair({ lockTimeout: '200ms', lockAutoExtend: false });
    const stale = one.getMutex('k')!;
    expect(await stale.acquire(false)).toBe(true);
    await sleep(230);
    const owner = two.getMutex('k')!;
    expect(await owner.acquire(false)).toBe(true);
    const ownerRow = lockRow(two, 'k')!;

    expect(await stale.extend()).toBe(false);
    expect(stale.held).toBe(false);
    await stale.release();
    expect(lockRow(two, 'k')).toEqual(ownerRow);
    expect(await stale.acquire(false)).toBe(false);
    expect(await owner.extend()).toBe(true);
    await owner.release();
    expect(lockRow(two, 'k')).toBeUndefined();
  });

  it('a stale holder released without extend still leaves the new lock alone', async () => {
    const [one, two] = pair({ lockTimeout: '150ms', lockAutoExtend: false });
    const stale = one.getMutex('k')!;
    await stale.acquire(false);
    await sleep(180);
    const owner = two.getMutex('k')!;
    expect(await owner.acquire(false)).toBe(true);
    await stale.release();
    expect(await one.getMutex('k')!.locked()).toBe(true);
    expect(await one.getMutex('k')!.acquire(false)).toBe(false);
    await owner.release();
  });

  it('extends a held lock automatically, so a slow holder keeps it past lockTimeout', async () => {
    const [one, two] = pair({ lockTimeout: '300ms' });
    const holder = one.getMutex('k')!;
    expect(await holder.acquire(false)).toBe(true);
    const first = lockRow(one, 'k')!.expiresAt;
    const other = two.getMutex('k')!;
    const deadline = Date.now() + 1000;
    while (Date.now() < deadline) {
      expect(await other.acquire(false)).toBe(false);
      await sleep(50);
    }
    expect(lockRow(one, 'k')!.expiresAt).toBeGreaterThan(first + 500);
    await holder.release();
    expect(await other.acquire(false)).toBe(true);
    await other.release();
  });

  it('reports a lock lost to another holder, and stops extending it', async () => {
    const [one] = pair({ lockTimeout: '150ms' });
    const events: ErrorEvent[] = [];
    const listener = (event: unknown) => events.push(event as ErrorEvent);
    subscribe('dogpile:error', listener);
    try {
      const holder = one.getMutex('k')!;
      expect(await holder.acquire(false)).toBe(true);
      // Another process took the lock over, as if this holder had stalled past its TTL.
      one.database.prepare(`UPDATE "${one.table}_locks" SET token = 'thief'`).run();
      expect(await eventually(() => events.length > 0, 2000)).toBe(true);
      expect(events[0]).toMatchObject({
        operation: 'lockExtend',
        key: '_lockk',
        error: { code: 'ERR_SQLITE_LOCK_LOST' },
      });
      expect(holder.held).toBe(false);
      await holder.release();
      expect(lockRow(one, 'k')?.token).toBe('thief');
    } finally {
      unsubscribe('dogpile:error', listener);
    }
  });

  it('a blocking acquire gets the lock soon after it is released', async () => {
    const [one, two] = pair({ lockPollMin: '5ms', lockPollMax: '40ms' });
    const holder = one.getMutex('k')!;
    await holder.acquire();
    const waiter = two.getMutex('k')!;
    let acquiredAt = 0;
    const waiting = waiter.acquire(true).then((ok) => {
      acquiredAt = Date.now();
      return ok;
    });
    await sleep(300);
    expect(acquiredAt).toBe(0);
    const releasedAt = Date.now();
    await holder.release();
    expect(await waiting).toBe(true);
    expect(acquiredAt - releasedAt).toBeLessThan(200);
    await waiter.release();
  });

  it('a blocking acquire waits by reading, never queueing for the write lock while the lock is held', async () => {
    const [one, two] = pair({ busyTimeout: '50ms' });
    const holder = one.getMutex('k')!;
    await holder.acquire();
    const waiting = two.getMutex('k')!.acquire(true);
    // Another writer keeps SQLite's write lock for longer than the waiter's busy timeout. A
    // waiter that retried with a write transaction would fail with ERR_SQLITE_BUSY; one that
    // reads the lock row first just goes on waiting.
    await sleep(20);
    one.database.exec('BEGIN IMMEDIATE');
    await sleep(200);
    one.database.exec('ROLLBACK');
    await holder.release();
    expect(await waiting).toBe(true);
  });

  it('waitForRelease() wakes within milliseconds of the release, without taking the lock', async () => {
    const [one, two] = pair();
    const holder = one.getMutex('k')!;
    const waiter = two.getMutex('k')!;
    expect(await waiter.waitForRelease()).toBe(true); // nobody holds it: at once
    const late: number[] = [];
    for (let round = 0; round < 3; round++) {
      await holder.acquire();
      let wokeAt = 0;
      const waiting = waiter.waitForRelease().then((free) => {
        wokeAt = Date.now();
        return free;
      });
      await sleep(150);
      expect(wokeAt).toBe(0);
      const releasedAt = Date.now();
      await holder.release();
      expect(await waiting).toBe(true);
      late.push(wokeAt - releasedAt);
      expect(waiter.held).toBe(false);
      expect(lockRow(one, 'k')).toBeUndefined();
    }
    // The default lockPollMax is 10 ms; the median leaves room for one hiccup of a busy machine.
    expect(late.sort((a, b) => a - b)[1]).toBeLessThan(30);
  });

  it('a waiter keeps checking every few ms however long it has waited', async () => {
    const checks = vi.spyOn(SqliteLeaseStore.prototype, 'isHeld');
    try {
      const [one, two] = pair();
      const holder = one.getMutex('k')!;
      await holder.acquire();
      const waiting = two.getMutex('k')!.waitForRelease();
      await sleep(100); // past the first, shorter steps
      checks.mockClear();
      await sleep(300);
      // At most 10 ms apart by default: about 40 checks. A backoff growing to 100 ms makes 4 to 6.
      expect(checks.mock.calls.length).toBeGreaterThanOrEqual(15);
      await holder.release();
      expect(await waiting).toBe(true);
    } finally {
      checks.mockRestore();
    }
  });

  it('waitForRelease() resolves false after lockBlockingTimeout, and rejects when its signal aborts', async () => {
    const [one, two] = pair({ lockBlockingTimeout: '150ms' });
    await one.getMutex('k')!.acquire();
    const started = Date.now();
    expect(await two.getMutex('k')!.waitForRelease()).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    setTimeout(() => controller.abort(reason), 50);
    await expect(two.getMutex('k')!.waitForRelease({ signal: controller.signal })).rejects.toBe(
      reason,
    );
  });

  it('a blocking acquire resolves false after lockBlockingTimeout', async () => {
    const [one, two] = pair({ lockBlockingTimeout: '250ms' });
    const holder = one.getMutex('k')!;
    await holder.acquire();
    const started = Date.now();
    expect(await two.getMutex('k')!.acquire(true)).toBe(false);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(240);
    expect(waited).toBeLessThan(1000);
    await holder.release();
  });

  it('a blocking acquire rejects with the reason when its signal aborts', async () => {
    const [one, two] = pair();
    const holder = one.getMutex('k')!;
    await holder.acquire();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const waiting = two.getMutex('k')!.acquire(true, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 100);
    await expect(waiting).rejects.toBe(reason);
    await expect(two.getMutex('k')!.acquire(true, { signal: controller.signal })).rejects.toBe(
      reason,
    );
    expect(lockRow(one, 'k')).toBeDefined();
    await holder.release();
  });

  it('many blocking waiters on several connections each get the lock exactly once, never two at a time', async () => {
    const file = path.join(tempDir(), 'locks.db');
    const backends = Array.from({ length: 4 }, () => new SqliteBackend({ filename: file }));
    open.push(...backends);
    let inside = 0;
    let maxInside = 0;
    let entries = 0;
    const worker = async (mutex: LeaseMutex) => {
      for (let i = 0; i < 5; i++) {
        expect(await mutex.acquire(true)).toBe(true);
        inside += 1;
        maxInside = Math.max(maxInside, inside);
        entries += 1;
        await sleep(2);
        inside -= 1;
        await mutex.release();
      }
    };
    await Promise.all(
      backends.flatMap((backend) => [
        worker(backend.getMutex('k')!),
        worker(backend.getMutex('k')!),
      ]),
    );
    expect(entries).toBe(40);
    expect(maxInside).toBe(1);
  });

  it('close() releases the locks its mutexes still hold and stops their timers', async () => {
    const [one, two] = pair({ lockTimeout: 60 });
    const held = one.getMutex('k')!;
    await held.acquire();
    await one.close();
    expect(held.held).toBe(false);
    expect(await two.getMutex('k')!.acquire(false)).toBe(true);
    await held.release();
    expect(await two.getMutex('k')!.locked()).toBe(true);
  });

  it('a waiter sleeping through close() fails with ERR_SQLITE_CLOSED', async () => {
    const [one, two] = pair({ lockPollMin: '50ms', lockPollMax: '50ms' });
    await one.getMutex('k')!.acquire();
    const waiting = two.getMutex('k')!.acquire(true);
    await sleep(20);
    await two.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_SQLITE_CLOSED' });
  });

  it('a lock write blocked longer than busyTimeout fails with ERR_SQLITE_BUSY', async () => {
    const [one, two] = pair({ busyTimeout: '100ms' });
    one.database.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      await expect(two.getMutex('k')!.acquire(false)).rejects.toMatchObject({
        code: 'ERR_SQLITE_BUSY',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      await expect(two.setSerialized('k', new Uint8Array([1]))).rejects.toMatchObject({
        code: 'ERR_SQLITE_BUSY',
      });
    } finally {
      one.database.exec('ROLLBACK');
    }
  });
});
