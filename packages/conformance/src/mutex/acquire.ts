import { expect } from 'vitest';
import { sleep, track, withDeadline } from '../timing.js';
import { acquire, CALL_MS, type MutexTests, mutexOf } from './shared.js';

/** `acquire()`, `acquire(false)`, `locked()` and `release()` on one key. */
export function registerAcquireTests(m: MutexTests): void {
  const { mutexIt } = m;

  mutexIt('acquire() takes a free lock, locked() reports it, release() frees it', async (scope) => {
    const backend = await scope.backend();
    const key = scope.key();
    const mutex = mutexOf(scope, backend, key);
    const observer = mutexOf(scope, backend, key);
    expect(await observer.locked(), 'locked() before anyone acquired').toBe(false);
    expect(await acquire(mutex, true, 'acquire() of a free lock'), 'acquire() of a free lock').toBe(
      true,
    );
    expect(await mutex.locked(), 'locked() seen by the holder').toBe(true);
    expect(await observer.locked(), 'locked() seen through another mutex of the same key').toBe(
      true,
    );
    await mutex.release();
    expect(await observer.locked(), 'locked() after release()').toBe(false);
  });

  mutexIt(
    'acquire(false) fails at once while the lock is held, and succeeds after release',
    async (scope) => {
      const backend = await scope.backend();
      const key = scope.key();
      const holder = mutexOf(scope, backend, key);
      const other = mutexOf(scope, backend, key);
      expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
      expect(
        await acquire(other, false, 'acquire(false) while held'),
        'acquire(false) while held',
      ).toBe(false);
      await holder.release();
      expect(
        await acquire(other, false, 'acquire(false) after release'),
        'acquire(false) after release',
      ).toBe(true);
      await other.release();
    },
  );

  mutexIt('a blocking acquire() waits for the holder, then gets the lock', async (scope) => {
    const backend = await scope.backend();
    const key = scope.key();
    const holder = mutexOf(scope, backend, key);
    const waiter = mutexOf(scope, backend, key);
    expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
    const waiting = track(waiter.acquire(true));
    await sleep(150);
    expect(waiting.settled, 'a blocking acquire() returned while another holder had the lock').toBe(
      false,
    );
    await holder.release();
    expect(
      await withDeadline(waiting.promise, CALL_MS, 'the waiter after the holder released'),
    ).toBe(true);
    await waiter.release();
  });
}
