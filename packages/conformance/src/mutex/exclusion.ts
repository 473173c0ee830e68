import { expect } from 'vitest';
import { withDeadline } from '../timing.js';
import { acquire, CALL_MS, expectExclusion, type MutexTests, mutexOf } from './shared.js';

/** Exclusion among concurrent acquirers of one key, and independence across keys. */
export function registerExclusionTests(m: MutexTests): void {
  const { o, mutexIt } = m;

  mutexIt(
    `of ${o.concurrency} simultaneous acquire(false) calls on a free lock exactly one wins`,
    async (scope) => {
      const backend = await scope.backend();
      const key = scope.key();
      const mutexes = Array.from({ length: o.concurrency }, () => mutexOf(scope, backend, key));
      const results = await withDeadline(
        Promise.all(mutexes.map((mutex) => mutex.acquire(false))),
        CALL_MS,
        'simultaneous acquire(false) calls',
      );
      const winners = mutexes.filter((_, i) => results[i]);
      for (const winner of winners) await winner.release();
      expect(winners.length, 'acquire(false) winners').toBe(1);
    },
  );

  mutexIt(
    `${o.concurrency} concurrent acquirers never hold the lock at the same time`,
    async (scope) => {
      await expectExclusion(m, [await scope.backend()], scope);
    },
  );

  mutexIt('locks on different keys are independent', async (scope) => {
    const backend = await scope.backend();
    const [a, b] = [scope.key('a'), scope.key('b')];
    const onA = mutexOf(scope, backend, a);
    const onB = mutexOf(scope, backend, b);
    expect(await acquire(onA, true, 'acquire() on key a')).toBe(true);
    expect(
      await mutexOf(scope, backend, b).locked(),
      'key b is locked while only key a is held',
    ).toBe(false);
    expect(
      await acquire(onB, false, 'acquire(false) on key b'),
      'acquire(false) on key b while a is held',
    ).toBe(true);
    await onA.release();
    expect(await mutexOf(scope, backend, b).locked(), 'releasing key a released key b').toBe(true);
    await onB.release();
    expect(await mutexOf(scope, backend, a).locked()).toBe(false);
  });
}
