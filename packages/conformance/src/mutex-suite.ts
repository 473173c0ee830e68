import { type CacheBackend, type CacheMutex, NullMutex } from '@dogpile/core';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { caught } from './checks.js';
import { type Resolved, resolveOptions, TestScope } from './harness.js';
import type { ConformanceOptions } from './options.js';
import { sleep, track, waitFor, withDeadline } from './timing.js';

/** How long a single non-blocking call may take; generous for a remote server under load. */
const CALL_MS = 5000;

function isMutex(value: unknown): value is CacheMutex {
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
function mutexOf(scope: TestScope, backend: CacheBackend, key: string): CacheMutex {
  const mutex = scope.mutex(backend, key);
  if (!isMutex(mutex)) {
    throw new Error(`getMutex("${key}") returned ${String(mutex)}, not a CacheMutex.`);
  }
  return mutex;
}

function acquire(mutex: CacheMutex, wait: boolean, what: string, ms = CALL_MS): Promise<boolean> {
  return withDeadline(mutex.acquire(wait), ms, what);
}

/**
 * Registers the mutex suite: what `getMutex(key)` returns and, when it is a real lock, `acquire`,
 * `acquire(false)`, `locked` and `release`, exclusion among concurrent acquirers, independence
 * across keys, exclusion across backend instances (distributed), and lock expiry (lockTtlMs).
 */
export function mutexSuite(options: ConformanceOptions): void {
  registerMutexSuite(resolveOptions(options));
}

export function registerMutexSuite(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;
  const distributed = caps.mutex === 'distributed';

  describe(`${o.name}: mutex`, () => {
    it(`getMutex agrees with capabilities.mutex (${String(caps.mutex)})`, async (ctx) => {
      const scope = new TestScope(o, ctx, 'mutex');
      const backend = await scope.backend();
      const mutex = scope.mutex(backend, scope.key());
      if (caps.mutex === false) {
        expect(
          mutex instanceof NullMutex,
          'capabilities.mutex is false, so getMutex must return a NullMutex (anything else, null included, makes the region lock)',
        ).toBe(true);
      } else if (caps.mutex === 'local') {
        expect(
          mutex === null || (isMutex(mutex) && !(mutex instanceof NullMutex)),
          'capabilities.mutex is "local", so getMutex must return null or a CacheMutex that is not a NullMutex',
        ).toBe(true);
      } else {
        expect(
          isMutex(mutex) && !(mutex instanceof NullMutex),
          'capabilities.mutex is "distributed", so getMutex must return a CacheMutex that is not a NullMutex',
        ).toBe(true);
      }
    });

    if (caps.mutex === false) return;

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

    mutexIt(
      'acquire() takes a free lock, locked() reports it, release() frees it',
      async (scope) => {
        const backend = await scope.backend();
        const key = scope.key();
        const mutex = mutexOf(scope, backend, key);
        const observer = mutexOf(scope, backend, key);
        expect(await observer.locked(), 'locked() before anyone acquired').toBe(false);
        expect(
          await acquire(mutex, true, 'acquire() of a free lock'),
          'acquire() of a free lock',
        ).toBe(true);
        expect(await mutex.locked(), 'locked() seen by the holder').toBe(true);
        expect(await observer.locked(), 'locked() seen through another mutex of the same key').toBe(
          true,
        );
        await mutex.release();
        expect(await observer.locked(), 'locked() after release()').toBe(false);
      },
    );

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
      expect(
        waiting.settled,
        'a blocking acquire() returned while another holder had the lock',
      ).toBe(false);
      await holder.release();
      expect(
        await withDeadline(waiting.promise, CALL_MS, 'the waiter after the holder released'),
      ).toBe(true);
      await waiter.release();
    });

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

    const exclusion = async (backends: CacheBackend[], scope: TestScope) => {
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
      expect(
        await mutexOf(scope, backends[0]!, key).locked(),
        'locked() after everyone released',
      ).toBe(false);
    };

    mutexIt(
      `${o.concurrency} concurrent acquirers never hold the lock at the same time`,
      async (scope) => {
        await exclusion([await scope.backend()], scope);
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
      expect(await mutexOf(scope, backend, b).locked(), 'releasing key a released key b').toBe(
        true,
      );
      await onB.release();
      expect(await mutexOf(scope, backend, a).locked()).toBe(false);
    });

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

    if (distributed) {
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
          await exclusion([await scope.backend(), await scope.backend()], scope);
        },
        t,
      );
    }

    if (caps.lockTtlMs !== undefined) {
      const ttl = caps.lockTtlMs;
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
          expect(
            await acquire(third, false, 'a third acquire(false) after the owner released'),
          ).toBe(true);
          await third.release();
        },
        t + bound,
      );
    }
  });
}
