import type { CacheBackend } from '@dogpile/core';
import { expect } from 'vitest';
import type { TestScope } from '../harness.js';
import { sleep, track, withDeadline } from '../timing.js';
import { acquire, CALL_MS, type MutexTests, mutexOf } from './shared.js';

/**
 * The optional `waitForRelease()`: at once when free, not while held, soon after a release,
 * abortable.
 */
export function registerWaitForReleaseTests(m: MutexTests): void {
  const { o, distributed, mutexIt } = m;
  const { caps } = o;
  // waitForRelease is optional; when a mutex offers it, the region relies on it to wake every
  // waiting process at a release, so it must neither return early nor sleep through a release.
  const waitIt = (name: string, fn: (scope: TestScope, backend: CacheBackend) => Promise<void>) =>
    mutexIt(name, async (scope) => {
      const backend = await scope.backend();
      const probe = mutexOf(scope, backend, scope.key('probe'));
      scope.ctx.skip(
        typeof probe.waitForRelease !== 'function',
        'the mutex has no waitForRelease (optional)',
      );
      await fn(scope, backend);
    });
  const other = async (scope: TestScope, backend: CacheBackend) =>
    distributed ? scope.backend() : backend;
  const noticeMs = caps.lockPollMaxMs + 50;

  waitIt(
    'waitForRelease() resolves at once while nobody holds the lock',
    async (scope, backend) => {
      const waiter = mutexOf(scope, backend, scope.key());
      expect(
        await withDeadline(waiter.waitForRelease!(), CALL_MS, 'waitForRelease() on a free lock'),
        'waitForRelease() on a free lock',
      ).toBe(true);
      expect(await waiter.locked(), 'waitForRelease() took the lock').toBe(false);
    },
  );

  waitIt('waitForRelease() does not resolve while the lock is held', async (scope, backend) => {
    const key = scope.key();
    const holder = mutexOf(scope, backend, key);
    expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
    const waiting = track(mutexOf(scope, await other(scope, backend), key).waitForRelease!());
    await sleep(Math.max(300, 3 * caps.lockPollMaxMs));
    expect(
      waiting.settled,
      'waitForRelease() settled while another holder still had the lock (a waiter would then spin, re-reading)',
    ).toBe(false);
    await holder.release();
    expect(
      await withDeadline(waiting.promise, CALL_MS, 'waitForRelease() after the release'),
      'waitForRelease() after the release',
    ).toBe(true);
  });

  waitIt(
    `waitForRelease() resolves within lockPollMax + 50 ms (${noticeMs} ms) of a release by another instance`,
    async (scope, backend) => {
      const key = scope.key();
      const waiterBackend = await other(scope, backend);
      const late: number[] = [];
      for (let round = 0; round < 3; round++) {
        const holder = mutexOf(scope, backend, key);
        expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
        let wokeAt = 0;
        const waiting = track(
          mutexOf(scope, waiterBackend, key).waitForRelease!().then((free) => {
            wokeAt = Date.now();
            return free;
          }),
        );
        await sleep(100);
        const releasedAt = Date.now();
        await holder.release();
        expect(
          await withDeadline(
            waiting.promise,
            Math.max(CALL_MS, 10 * noticeMs),
            'waitForRelease() after another instance released the lock (it never noticed the release)',
          ),
        ).toBe(true);
        late.push(wokeAt - releasedAt);
      }
      // The median of three rounds, so one hiccup of a loaded machine does not fail it.
      const median = late.sort((a, b) => a - b)[1]!;
      expect(
        median,
        `waitForRelease() noticed releases ${late.join(', ')} ms late; capabilities.lockPollMaxMs allows ${caps.lockPollMaxMs} + 50`,
      ).toBeLessThanOrEqual(noticeMs);
    },
  );

  waitIt(
    'waitForRelease() rejects with the signal reason when it aborts',
    async (scope, backend) => {
      const key = scope.key();
      const holder = mutexOf(scope, backend, key);
      expect(await acquire(holder, true, 'the holder acquire()')).toBe(true);
      const controller = new AbortController();
      const reason = new Error('aborted by the conformance kit');
      const waiting = mutexOf(scope, backend, key).waitForRelease!({ signal: controller.signal });
      await sleep(50);
      controller.abort(reason);
      const outcome = await withDeadline(
        waiting.then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        ),
        CALL_MS,
        'waitForRelease() after its signal aborted',
      );
      expect(outcome, 'an aborted waitForRelease() must reject with signal.reason').toEqual({
        error: reason,
      });
      expect(await holder.locked(), 'the holder lost the lock when a waiter aborted').toBe(true);
      await holder.release();
    },
  );
}
