import { expect } from 'vitest';
import { caught } from '../checks.js';
import { sleep, track, withDeadline } from '../timing.js';
import { acquire, CALL_MS, type MutexTests, mutexOf } from './shared.js';

/**
 * Only the holder frees a lock: a non-holder release() and an aborted acquire() leave it as it was.
 */
export function registerOwnershipTests(m: MutexTests): void {
  const { mutexIt } = m;

  mutexIt(
    'release() through a mutex that does not hold the lock leaves the holder its lock',
    async (scope) => {
      const backend = await scope.backend();
      const key = scope.key();
      const holder = mutexOf(scope, backend, key);
      expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
      await caught(() => mutexOf(scope, backend, key).release());
      expect(await holder.locked(), 'locked() after a non-holder called release()').toBe(true);
      expect(
        await acquire(
          mutexOf(scope, backend, key),
          false,
          'acquire(false) after a non-holder release',
        ),
        'acquire(false) after a non-holder called release()',
      ).toBe(false);
      await holder.release();
    },
  );

  mutexIt(
    'an aborted acquire() rejects with the signal reason and takes nothing',
    async (scope) => {
      const backend = await scope.backend();
      const key = scope.key();
      const holder = mutexOf(scope, backend, key);
      expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
      const controller = new AbortController();
      const reason = new Error('aborted by the conformance kit');
      const waiting = track(
        mutexOf(scope, backend, key).acquire(true, { signal: controller.signal }),
      );
      await sleep(50);
      controller.abort(reason);
      const outcome = await withDeadline(
        waiting.promise.then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
        CALL_MS,
        'a blocking acquire() after its signal aborted',
      );
      expect(outcome, 'an aborted acquire() must reject with signal.reason').toEqual({
        error: reason,
      });
      expect(await holder.locked(), 'the holder lost the lock when a waiter aborted').toBe(true);
      await holder.release();
      await sleep(50);
      const fresh = mutexOf(scope, backend, key);
      expect(
        await acquire(fresh, false, 'acquire(false) after the aborted waiter'),
        'the aborted waiter took the lock after all',
      ).toBe(true);
      await fresh.release();
    },
  );
}
