import { expect, it } from 'vitest';
import { TestScope } from '../harness.js';
import { acquire, expectExclusion, type MutexTests, mutexOf } from './shared.js';

/** A distributed mutex: two backend instances exclude each other. */
export function registerDistributedTests(m: MutexTests): void {
  const { o, t } = m;

  it(
    'two backend instances exclude each other',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'mutex');
      const [one, two] = [await scope.backend(), await scope.backend()];
      const key = scope.key();
      const onOne = mutexOf(scope, one, key);
      const onTwo = mutexOf(scope, two, key);
      expect(await acquire(onOne, true, 'acquire() on instance one')).toBe(true);
      expect(await onTwo.locked(), 'instance two sees the lock of instance one').toBe(true);
      expect(
        await acquire(onTwo, false, 'acquire(false) on instance two'),
        'acquire(false) on instance two while instance one holds the lock',
      ).toBe(false);
      await onOne.release();
      expect(await acquire(onTwo, false, 'acquire(false) on instance two after release')).toBe(
        true,
      );
      expect(await onOne.locked(), 'instance one sees the lock of instance two').toBe(true);
      await onTwo.release();
    },
    t,
  );

  it(
    `${o.concurrency} acquirers spread over two backend instances never overlap`,
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'mutex');
      await expectExclusion(m, [await scope.backend(), await scope.backend()], scope);
    },
    t,
  );
}
