import { expect } from 'vitest';
import type { TestScope } from '../harness.js';
import { sleep, waitFor } from '../timing.js';
import { acquire, type MutexTests, mutexOf } from './shared.js';

/**
 * Lock expiry (`capabilities.lockTtlMs`): a vanished holder's lock expires, and the late holder
 * cannot free the new owner.
 */
export function registerExpiryTests(m: MutexTests): void {
  const { o, t, distributed, mutexIt } = m;
  const ttl = o.caps.lockTtlMs!;
  const bound = ttl + Math.max(2000, ttl);
  const instances = async (scope: TestScope) => {
    const first = await scope.backend({ lockTtlMs: ttl });
    return [first, distributed ? await scope.backend({ lockTtlMs: ttl }) : first] as const;
  };

  mutexIt(
    `the lock of a holder that vanished expires after about lockTtlMs (${ttl} ms)`,
    async (scope) => {
      const [one, two] = await instances(scope);
      const key = scope.key();
      const vanished = mutexOf(scope, one, key);
      expect(await acquire(vanished, true, 'the first holder acquire()')).toBe(true);
      const taken = Date.now();
      // The holder now vanishes: it never releases, and (as hints.lockTtlMs asks) nothing extends it.
      const next = mutexOf(scope, two, key);
      expect(
        await acquire(next, false, 'acquire(false) right after'),
        'the lock is free right after it was taken',
      ).toBe(false);
      await sleep(Math.max(0, taken + ttl / 2 - Date.now()));
      expect(
        await acquire(next, false, `acquire(false) at half the TTL`),
        'the lock expired before half its TTL',
      ).toBe(false);
      await waitFor(
        () => next.acquire(false),
        `another holder to get the expired lock (lockTtlMs ${ttl})`,
        {
          timeoutMs: bound,
          intervalMs: 20,
        },
      );
      await next.release();
    },
    t + bound,
  );

  mutexIt(
    'a holder whose lock expired and was taken does not release the new owner',
    async (scope) => {
      const [one, two] = await instances(scope);
      const key = scope.key();
      const late = mutexOf(scope, one, key);
      expect(await acquire(late, true, 'the first holder acquire()')).toBe(true);
      const owner = mutexOf(scope, two, key);
      await waitFor(
        () => owner.acquire(false),
        `the lock to expire and be taken (lockTtlMs ${ttl})`,
        {
          timeoutMs: bound,
          intervalMs: 20,
        },
      );
      await late.release();
      expect(
        await owner.locked(),
        "the expired holder's release() freed the new owner's lock",
      ).toBe(true);
      const third = mutexOf(scope, one, key);
      expect(
        await acquire(third, false, 'a third acquire(false)'),
        "a third holder got in after the expired holder's release()",
      ).toBe(false);
      await owner.release();
      expect(await acquire(third, false, 'a third acquire(false) after the owner released')).toBe(
        true,
      );
      await third.release();
    },
    t + bound,
  );
}
