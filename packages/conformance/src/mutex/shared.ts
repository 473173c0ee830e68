import type { CacheBackend, CacheMutex } from '@dogpile/core';
import { beforeAll, expect, it, type TestContext } from 'vitest';
import { type Resolved, TestScope } from '../harness.js';
import { sleep, withDeadline } from '../timing.js';

/** How long a single non-blocking call may take; generous for a remote server under load. */
export const CALL_MS = 5000;

/** Whether `value` has the methods of a CacheMutex. */
export function isMutex(value: unknown): value is CacheMutex {
  const mutex = value as CacheMutex | null;
  return (
    mutex !== null &&
    typeof mutex === 'object' &&
    typeof mutex.acquire === 'function' &&
    typeof mutex.release === 'function' &&
    typeof mutex.locked === 'function'
  );
}

/** The backend's mutex for `key`, failing clearly when there is none. */
export function mutexOf(scope: TestScope, backend: CacheBackend, key: string): CacheMutex {
  const mutex = scope.mutex(backend, key);

  if (!isMutex(mutex)) {
    throw new Error(`getMutex("${key}") returned ${String(mutex)}, not a CacheMutex.`);
  }
  return mutex;
}

/** `mutex.acquire(wait)`, failing with `what` when it takes longer than `ms`. */
export function acquire(
  mutex: CacheMutex,
  wait: boolean,
  what: string,
  ms = CALL_MS,
): Promise<boolean> {
  return withDeadline(mutex.acquire(wait), ms, what);
}

/** The resolved options and the test registrar every mutex group gets. */
export interface MutexTests {
  o: Resolved;
  t: number;
  distributed: boolean;
  /** Registers a test that is skipped when `getMutex` returns null (a `local` backend may). */
  mutexIt(name: string, fn: (scope: TestScope) => Promise<void>, timeout?: number): void;
}

/**
 * Finds out once, for a `local` backend, whether `getMutex` returns a mutex or null, and returns
 * the registrar of tests that need one. Call it inside the mutex `describe`.
 */
export function mutexTests(o: Resolved): MutexTests {
  const t = o.timeoutMs;
  const distributed = o.caps.mutex === 'distributed';
  // With mutex: 'local', getMutex may return null: the region's in-process lock is then the
  // whole story, and the region suite tests it. Find out once which it is.
  let backendHasMutex = distributed;
  if (!distributed) {
    beforeAll(async () => {
      const backend = await o.createBackend({});
      try {
        backendHasMutex = backend.getMutex(`${o.keyPrefix}probe`) !== null;
      } finally {
        await o.disposeBackend(backend);
      }
    }, t);
  }

  const mutexIt = (name: string, fn: (scope: TestScope) => Promise<void>, timeout = t) =>
    it(
      name,
      async (ctx: TestContext) => {
        ctx.skip(
          !backendHasMutex,
          'getMutex returns null: the region in-process lock is the mutex (see the region suite)',
        );
        await fn(new TestScope(o, ctx, 'mutex'));
      },
      timeout,
    );

  return { o, t, distributed, mutexIt };
}

/**
 * Runs `o.concurrency` acquirers, spread over `backends`, taking the lock of one key three times
 * each, and checks that no two ever hold it at once.
 */
export async function expectExclusion(
  { o, t }: MutexTests,
  backends: CacheBackend[],
  scope: TestScope,
): Promise<void> {
  const key = scope.key();
  const rounds = 3;
  let inFlight = 0;
  let maxInFlight = 0;
  let held = 0;
  let refused = 0;
  const worker = async (i: number) => {
    for (let round = 0; round < rounds; round++) {
      const mutex = mutexOf(scope, backends[i % backends.length]!, key);
      if (!(await mutex.acquire(true))) {
        refused++;
        continue;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      held++;
      await sleep(2 + (i % 3));
      inFlight--;
      await mutex.release();
    }
  };
  const outcomes = await withDeadline(
    Promise.allSettled(Array.from({ length: o.concurrency }, (_, i) => worker(i))),
    t - 1000,
    `${o.concurrency} acquirers taking the lock ${rounds} times each`,
  );
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  expect(maxInFlight, 'acquirers holding the lock at the same time').toBe(1);
  expect(refused, 'blocking acquire() calls that gave up').toBe(0);
  expect(held).toBe(o.concurrency * rounds);
  expect(await mutexOf(scope, backends[0]!, key).locked(), 'locked() after everyone released').toBe(
    false,
  );
}
