import { describe, expect, it } from 'vitest';
import { Lock, NeedRegenerationError } from '../src/index.js';
import { KeyedLocks } from '../src/lock/keyed-locks.js';
import { RegionMutex } from '../src/lock/region-mutex.js';
import { CountingMutex, CountingMutexBackend, deferred, settle } from './helpers.js';

describe('KeyedLocks, the per-key in-process lock registry', () => {
  it('creates a lock on first use and drops it when released', () => {
    const locks = new KeyedLocks();
    expect(locks.size).toBe(0);
    expect(locks.tryAcquire('a')).toBe(true);
    expect(locks.isLocked('a')).toBe(true);
    expect(locks.tryAcquire('a')).toBe(false);
    expect(locks.tryAcquire('b')).toBe(true);
    expect(locks.size).toBe(2);
    locks.release('a');
    locks.release('b');
    expect(locks.size).toBe(0);
    expect(locks.isLocked('a')).toBe(false);
    // Releasing a key nobody holds is harmless.
    locks.release('a');
    expect(locks.size).toBe(0);
  });

  it('leaves nothing behind after 100,000 distinct keys', async () => {
    const locks = new KeyedLocks();
    let peak = 0;
    await Promise.all(
      Array.from({ length: 100_000 }, async (_, i) => {
        const key = `key:${i}`;
        await locks.acquire(key);
        // A second caller for every tenth key, queued behind the first.
        const second = i % 10 === 0 ? locks.acquire(key) : undefined;
        peak = Math.max(peak, locks.size);
        await Promise.resolve();
        locks.release(key);
        if (second) {
          await second;
          locks.release(key);
        }
      }),
    );
    expect(peak).toBeGreaterThan(1000);
    expect(locks.size).toBe(0);
  });

  it('hands the lock to waiters in FIFO order', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const order: number[] = [];
    const waiters = [1, 2, 3, 4, 5].map((n) =>
      locks.acquire('k').then(() => {
        order.push(n);
        locks.release('k');
      }),
    );
    await settle();
    expect(order).toEqual([]);
    locks.release('k');
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3, 4, 5]);
    expect(locks.size).toBe(0);
  });

  it('hands over without a gap: a newcomer cannot take the lock a waiter is about to get', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    let waiterHolds = false;
    const waiter = locks.acquire('k').then(() => {
      waiterHolds = true;
    });
    locks.release('k');
    // Synchronously after the release, before the waiter has even run: the key is still held.
    expect(locks.isLocked('k')).toBe(true);
    expect(locks.tryAcquire('k')).toBe(false);
    await waiter;
    expect(waiterHolds).toBe(true);
    locks.release('k');
    expect(locks.size).toBe(0);
  });

  it('removes an aborted waiter without breaking the queue', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const order: string[] = [];
    const controller = new AbortController();
    const first = locks.acquire('k').then(() => order.push('first'));
    const aborted = locks.acquire('k', controller.signal).then(
      () => order.push('aborted one got the lock'),
      (reason: unknown) => order.push(`rejected: ${String(reason)}`),
    );
    const third = locks.acquire('k').then(() => order.push('third'));

    controller.abort('gave up');
    await aborted;
    expect(order).toEqual(['rejected: gave up']);
    expect(locks.isLocked('k')).toBe(true); // the holder is undisturbed

    locks.release('k');
    await first;
    locks.release('k'); // skips the aborted waiter
    await third;
    expect(order).toEqual(['rejected: gave up', 'first', 'third']);
    locks.release('k');
    expect(locks.size).toBe(0);
  });

  it('drops the lock when every waiter has aborted', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const controllers = [new AbortController(), new AbortController()];
    const waits = controllers.map((c) => locks.acquire('k', c.signal).catch((e: unknown) => e));
    for (const c of controllers) c.abort(new Error('stop'));
    const results = await Promise.all(waits);
    expect(results.map((e) => (e as Error).message)).toEqual(['stop', 'stop']);
    locks.release('k');
    expect(locks.size).toBe(0);
    expect(locks.tryAcquire('k')).toBe(true);
    locks.release('k');
  });

  it('rejects at once with an already aborted signal and leaves the holder alone', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const reason = new Error('already aborted');
    await expect(locks.acquire('k', AbortSignal.abort(reason))).rejects.toBe(reason);
    locks.release('k');
    expect(locks.size).toBe(0);
  });

  it('an abort after the lock was granted changes nothing', async () => {
    const locks = new KeyedLocks();
    const controller = new AbortController();
    await locks.acquire('k');
    const granted = locks.acquire('k', controller.signal);
    locks.release('k');
    await granted;
    controller.abort();
    expect(locks.isLocked('k')).toBe(true);
    locks.release('k');
    expect(locks.size).toBe(0);
  });
});

describe('RegionMutex: the local lock first, then the backend mutex', () => {
  it('makes at most one remote acquire attempt per key at a time, however many local callers wait', async () => {
    const backend = new CountingMutexBackend();
    const locks = new KeyedLocks();
    const holders = Array.from({ length: 50 }, async () => {
      const mutex = new RegionMutex(locks, 'k', backend.getMutex('k'));
      expect(await mutex.acquire(true)).toBe(true);
      await settle(1);
      await mutex.release();
    });
    await Promise.all(holders);
    expect(backend.acquireAttempts).toBe(50);
    expect(backend.maxInFlight).toBe(1);
    expect(backend.releases).toBe(50);
    expect(locks.size).toBe(0);
    expect(backend.remoteHeld.size).toBe(0);
  });

  it('a non-blocking acquire fails without touching the remote mutex when the key is held locally', async () => {
    const backend = new CountingMutexBackend();
    const locks = new KeyedLocks();
    const a = new RegionMutex(locks, 'k', backend.getMutex('k'));
    const b = new RegionMutex(locks, 'k', backend.getMutex('k'));
    expect(await a.acquire(false)).toBe(true);
    expect(await b.acquire(false)).toBe(false);
    expect(backend.acquireAttempts).toBe(1);
    expect(await b.locked()).toBe(true);
    await a.release();
    expect(await b.locked()).toBe(false);
    expect(locks.size).toBe(0);
  });

  it('gives the local lock back when the remote mutex is held by another process', async () => {
    const backend = new CountingMutexBackend();
    backend.remoteHeld.add('k'); // another process holds it
    const locks = new KeyedLocks();
    const mutex = new RegionMutex(locks, 'k', new CountingMutex(backend, 'k'));
    expect(await mutex.acquire(false)).toBe(false);
    expect(locks.size).toBe(0);
    expect(await mutex.locked()).toBe(true); // reported through the remote mutex
  });

  it('gives the local lock back when the remote acquire throws', async () => {
    const locks = new KeyedLocks();
    const boom = new Error('redis down');
    const mutex = new RegionMutex(locks, 'k', {
      acquire: async () => {
        throw boom;
      },
      release: async () => {},
      locked: async () => false,
    });
    await expect(mutex.acquire(true)).rejects.toBe(boom);
    expect(locks.size).toBe(0);
  });

  it('releases the local lock even when the remote release throws', async () => {
    const locks = new KeyedLocks();
    const gate = deferred();
    const mutex = new RegionMutex(locks, 'k', {
      acquire: async () => true,
      release: async () => {
        await gate.promise;
        throw new Error('lost connection');
      },
      locked: async () => false,
    });
    await mutex.acquire(true);
    const releasing = mutex.release();
    gate.resolve();
    await expect(releasing).rejects.toThrow('lost connection');
    expect(locks.size).toBe(0);
  });
});

describe('KeyedLocks.waitForRelease', () => {
  it('is undefined for a free key', () => {
    expect(new KeyedLocks().waitForRelease('k')).toBeUndefined();
  });

  it('wakes every watcher at the next release, without giving any of them the lock', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const woken: number[] = [];
    const watchers = [1, 2, 3].map((n) => locks.waitForRelease('k')!.then(() => woken.push(n)));
    await settle();
    expect(woken).toEqual([]);
    locks.release('k');
    await Promise.all(watchers);
    expect(woken.sort()).toEqual([1, 2, 3]);
    expect(locks.size).toBe(0);
  });

  it('a watcher whose signal aborts is rejected and the others still wake', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const controller = new AbortController();
    const aborted = locks.waitForRelease('k', controller.signal)!;
    const other = locks.waitForRelease('k')!;
    controller.abort(new Error('stop watching'));
    await expect(aborted).rejects.toThrow('stop watching');
    locks.release('k');
    await other;
    expect(locks.size).toBe(0);
  });
});

describe('KeyedLocks.release: what the holder leaves its watchers', () => {
  it("goes to every watcher of that release, and not to the next holder's", async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const watchers = [locks.waitForRelease('k')!, locks.waitForRelease('k')!];
    expect(locks.waiting('k')).toBe(2);
    const next = locks.acquire('k');
    locks.release('k', 'for the watchers of the first holder only');
    await expect(Promise.all(watchers)).resolves.toEqual([
      'for the watchers of the first holder only',
      'for the watchers of the first holder only',
    ]);
    await next;
    const later = locks.waitForRelease('k')!;
    locks.release('k');
    await expect(later).resolves.toBeUndefined();
    expect(locks.size).toBe(0);
  });

  it('does not hold on to a watcher that aborted', async () => {
    const locks = new KeyedLocks();
    await locks.acquire('k');
    const other = locks.waitForRelease('k')!;
    const controller = new AbortController();
    const aborted = locks.waitForRelease('k', controller.signal)!;
    controller.abort(new Error('stop watching'));
    await expect(aborted).rejects.toThrow('stop watching');
    expect(locks.waiting('k')).toBe(1);
    locks.release('k', 'value');
    await expect(other).resolves.toBe('value');
  });
});

describe('aborting a Lock waiting on a RegionMutex', () => {
  it('rejects that caller only; the holder and the next waiter are unaffected', async () => {
    const locks = new KeyedLocks();
    const holder = new RegionMutex(locks, 'k', null);
    await holder.acquire(true);
    const controller = new AbortController();
    const missing = () => {
      throw new NeedRegenerationError();
    };
    const aborted = new Lock(
      new RegionMutex(locks, 'k', null),
      () => ['a', 1] as const,
      missing,
      null,
      null,
      {
        acquireOptions: { signal: controller.signal },
      },
    ).run();
    const next = new Lock(
      new RegionMutex(locks, 'k', null),
      () => ['b', 1] as const,
      missing,
      null,
    ).run();
    await settle();
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    expect(locks.isLocked('k')).toBe(true);
    await holder.release();
    expect(await next).toBe('b');
    expect(locks.size).toBe(0);
  });
});
