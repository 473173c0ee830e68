import { describe, expect, it } from 'vitest';
import {
  type AsyncCreationRunner,
  type CacheMutex,
  type CacheRegion,
  type CachingRegion,
  makeRegion,
} from '../src/index.js';
import {
  CountingMutexBackend,
  deferred,
  ManualClock,
  MapBackend,
  OverlapCounter,
  settle,
  sleep,
} from './helpers.js';

describe('one creator per key', () => {
  it('50 concurrent callers of a cold key: the creator runs once and everyone gets its value', async () => {
    const region = makeRegion().configure(new MapBackend());
    const overlap = new OverlapCounter();
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        region.getOrCreate('k', () =>
          overlap.around(async () => {
            await sleep(10);
            return { made: overlap.total };
          }),
        ),
      ),
    );
    expect(overlap.total).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ made: 1 });
    expect(region.lockedKeyCount).toBe(0);
  });

  it('serves the stale value to everyone else while one caller regenerates', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 1 });
    await region.set('k', 'old');
    clock.advance(1500);

    const gate = deferred();
    let creatorCalls = 0;
    const creator = async () => {
      creatorCalls++;
      await gate.promise;
      return 'new';
    };
    const regenerating = region.getOrCreate('k', creator);
    await settle();
    expect(creatorCalls).toBe(1);
    // While it runs, the others are answered at once with the stale value.
    const others = await Promise.all(
      Array.from({ length: 10 }, () => region.getOrCreate('k', creator)),
    );
    expect(others).toEqual(Array(10).fill('old'));
    expect(creatorCalls).toBe(1);
    expect(await region.keyIsLocked('k')).toBe(true);

    gate.resolve();
    expect(await regenerating).toBe('new');
    expect(await region.getOrCreate('k', creator)).toBe('new');
    expect(creatorCalls).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('after a hard invalidation nobody gets the old value: all wait for the one creator', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 60 });
    await region.set('k', 'old');
    clock.advance(1);
    await region.invalidate({ hard: true });
    clock.advance(1);
    const gate = deferred();
    const overlap = new OverlapCounter();
    const callers = Array.from({ length: 20 }, () =>
      region.getOrCreate('k', () =>
        overlap.around(async () => {
          await gate.promise;
          return 'new';
        }),
      ),
    );
    await settle();
    gate.resolve();
    expect(await Promise.all(callers)).toEqual(Array(20).fill('new'));
    expect(overlap.total).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('after a soft invalidation one caller regenerates and the others get the old value at once', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 60 });
    await region.set('k', 'old');
    clock.advance(1);
    await region.invalidate({ hard: false });
    clock.advance(1);
    const gate = deferred();
    const overlap = new OverlapCounter();
    const creator = () =>
      overlap.around(async () => {
        await gate.promise;
        return 'new';
      });
    const first = region.getOrCreate('k', creator);
    await settle();
    const others = await Promise.all(
      Array.from({ length: 10 }, () => region.getOrCreate('k', creator)),
    );
    expect(others).toEqual(Array(10).fill('old'));
    gate.resolve();
    expect(await first).toBe('new');
    expect(overlap.total).toBe(1);
    expect(await region.get('k')).toBe('new');
  });
});

/**
 * Many callers per key while the values keep disappearing: invalidations (hard and soft) and a
 * backend wipe at random moments. Whatever happens to the values, two creators for one key must
 * never run at the same time.
 */
async function churn(region: CacheRegion, disturb: () => void | Promise<void>) {
  const keys = ['a', 'b', 'c', 'd'];
  const overlaps = new Map(keys.map((key) => [key, new OverlapCounter()]));
  let done = false;
  const chaos = (async () => {
    while (!done) {
      await sleep(Math.random() * 3);
      await disturb();
    }
  })();
  const worker = async (key: string) => {
    const overlap = overlaps.get(key)!;
    for (let round = 0; round < 15; round++) {
      const value = await region.getOrCreate(key, () =>
        overlap.around(async () => {
          await sleep(Math.random() * 3);
          return `${key}:${overlap.total}`;
        }),
      );
      expect(value.startsWith(`${key}:`)).toBe(true);
      await sleep(Math.random() * 2);
    }
  };
  await Promise.all(keys.flatMap((key) => Array.from({ length: 15 }, () => worker(key))));
  done = true;
  await chaos;
  for (const key of keys) {
    const overlap = overlaps.get(key)!;
    expect(overlap.max, `creators of ${key} at once`).toBe(1);
    expect(overlap.total, `regenerations of ${key}`).toBeGreaterThan(3);
  }
  expect(region.lockedKeyCount).toBe(0);
}

describe('contention with values disappearing underneath', () => {
  it('hard invalidations never let two creators run at once for one key', async () => {
    const region = makeRegion().configure(new MapBackend(), { expirationTime: '20ms' });
    await churn(region, () => region.invalidate({ hard: true }));
  });

  it('soft invalidations never let two creators run at once for one key', async () => {
    const region = makeRegion().configure(new MapBackend(), { expirationTime: '20ms' });
    await churn(region, () => region.invalidate({ hard: false }));
  });

  it('clearing the backend never lets two creators run at once for one key', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: '20ms' });
    await churn(region, () => backend.clear());
  });
});

describe('the in-process lock registry', () => {
  it('is empty after 100,000 distinct keys went through getOrCreate', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    let peak = 0;
    const batch = 20_000;
    for (let start = 0; start < 100_000; start += batch) {
      await Promise.all(
        Array.from({ length: batch }, (_, i) => {
          const key = `key:${start + i}`;
          return region.getOrCreate(key, async () => {
            peak = Math.max(peak, region.lockedKeyCount);
            await Promise.resolve();
            return start + i;
          });
        }),
      );
    }
    expect(backend.store.size).toBe(100_000);
    expect(peak).toBeGreaterThan(1000); // the locks were really taken, many at once
    expect(region.lockedKeyCount).toBe(0);
  }, 120_000); // A correctness check, not a speed one: a loaded CI machine may take long.

  it('is empty after creators that throw, values not cached, and waiters', async () => {
    const region = makeRegion().configure(new MapBackend());
    const outcomes = await Promise.allSettled(
      Array.from({ length: 3000 }, (_, i) =>
        region.getOrCreate(
          `k${i % 1000}`,
          async () => {
            await Promise.resolve();
            if (i % 3 === 0) throw new Error('fail');
            return i;
          },
          { shouldCacheFn: () => i % 3 !== 1 },
        ),
      ),
    );
    expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe("a backend's distributed mutex is taken behind the in-process lock", () => {
  it('100 concurrent cold callers: one remote acquire attempt in flight at a time, one creator', async () => {
    const backend = new CountingMutexBackend();
    const region = makeRegion().configure(backend);
    const overlap = new OverlapCounter();
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        region.getOrCreate('k', () =>
          overlap.around(async () => {
            await sleep(20);
            return 'v';
          }),
        ),
      ),
    );
    expect(results).toEqual(Array(100).fill('v'));
    expect(overlap.total).toBe(1);
    expect(backend.acquireAttempts).toBeGreaterThanOrEqual(1);
    expect(backend.maxInFlight).toBe(1);
    expect(backend.releases).toBe(backend.acquireAttempts);
    expect(backend.remoteHeld.size).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('100 concurrent callers of a stale key: one remote attempt in flight, stale value to the rest', async () => {
    const clock = new ManualClock();
    const backend = new CountingMutexBackend();
    const region = makeRegion({ clock }).configure(backend, { expirationTime: 1 });
    await region.set('k', 'old');
    clock.advance(2000);
    const overlap = new OverlapCounter();
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        region.getOrCreate('k', () =>
          overlap.around(async () => {
            await sleep(20);
            return 'new';
          }),
        ),
      ),
    );
    expect(results.filter((r) => r === 'new')).toHaveLength(1);
    expect(results.filter((r) => r === 'old')).toHaveLength(99);
    expect(backend.maxInFlight).toBe(1);
    expect(backend.acquireAttempts).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('with several keys and several rounds, never two attempts in flight for one key', async () => {
    const backend = new CountingMutexBackend();
    const region = makeRegion().configure(backend, { expirationTime: '15ms' });
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        for (let round = 0; round < 5; round++) {
          await region.getOrCreate(`k${i % 3}`, async () => {
            await sleep(5);
            return round;
          });
          await sleep(5);
        }
      }),
    );
    expect(backend.maxInFlight).toBe(1);
    expect(backend.remoteHeld.size).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe('concurrent dogpile test (dogpile.cache fixtures test_threaded_dogpile, scaled down)', () => {
  it('10 workers x 5 calls, 60 ms expiry, 60 ms creator: never two creators at once', async () => {
    const expiration = 0.06;
    const region = makeRegion().configure(new MapBackend(), { expirationTime: expiration });
    let creating = false;
    const canary: boolean[] = [];
    const creator = async () => {
      const ack = !creating; // dogpile: lock.acquire(False)
      if (ack) creating = true;
      canary.push(ack);
      await sleep(expiration * 1000);
      if (ack) creating = false;
      return 'some value';
    };
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 5; i++) {
          expect(await region.getOrCreate('some key', creator)).toBe('some value');
          await sleep(expiration * 2 * 1000);
        }
      }),
    );
    const runTime = (performance.now() - started) / 1000;
    expect(canary.length).toBeGreaterThan(2);
    expect(canary).not.toContain(false);
    // A generation can start only once the previous value is older than the expiry.
    expect(canary.length).toBeLessThanOrEqual(Math.ceil(runTime / expiration));
  });
});

describe('getOrCreateMulti under concurrency', () => {
  it('overlapping calls with keys in different orders do not deadlock', async () => {
    const region = makeRegion().configure(new MapBackend());
    const overlaps = new Map(['a', 'b', 'c', 'd'].map((k) => [k, new OverlapCounter()]));
    const creator = async (...keys: string[]) => {
      for (const k of keys) overlaps.get(k)!.enter();
      await sleep(5);
      for (const k of keys) overlaps.get(k)!.exit();
      return keys.map((k) => k.toUpperCase());
    };
    const results = await Promise.all([
      region.getOrCreateMulti(['a', 'b', 'c'], creator),
      region.getOrCreateMulti(['c', 'b', 'a', 'd'], creator),
      region.getOrCreateMulti(['d', 'a'], creator),
    ]);
    expect(results).toEqual([
      ['A', 'B', 'C'],
      ['C', 'B', 'A', 'D'],
      ['D', 'A'],
    ]);
    for (const overlap of overlaps.values()) expect(overlap.max).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('a getOrCreate on a key being created by getOrCreateMulti waits for that value', async () => {
    const region = makeRegion().configure(new MapBackend());
    const gate = deferred();
    const multi = region.getOrCreateMulti(['a', 'b'], async (...keys) => {
      await gate.promise;
      return keys.map((k) => `multi ${k}`);
    });
    await settle();
    let singleCalls = 0;
    const single = region.getOrCreate('b', () => {
      singleCalls++;
      return 'single b';
    });
    await settle();
    gate.resolve();
    expect(await multi).toEqual(['multi a', 'multi b']);
    expect(await single).toBe('multi b');
    expect(singleCalls).toBe(0);
  });

  it('serves the stale value of a key whose creation is in progress elsewhere', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 1 });
    await region.setMulti({ a: 'old a', b: 'old b' });
    clock.advance(2000);
    const gate = deferred();
    const single = region.getOrCreate('a', async () => {
      await gate.promise;
      return 'new a';
    });
    await settle();
    const created: string[][] = [];
    expect(
      await region.getOrCreateMulti(['a', 'b'], (...keys) => {
        created.push(keys);
        return keys.map((k) => `multi ${k}`);
      }),
    ).toEqual(['old a', 'multi b']);
    expect(created).toEqual([['b']]);
    gate.resolve();
    expect(await single).toBe('new a');
  });
});

describe('asyncCreationRunner (dogpile AsyncCreatorTest)', () => {
  function fixture() {
    const calls: Array<{ region: CachingRegion; key: string; mutex: CacheMutex }> = [];
    const runner: AsyncCreationRunner = (region, key, creator, mutex) => {
      calls.push({ region, key, mutex });
      void (async () => {
        try {
          await region.set(key, await creator());
        } finally {
          await mutex.release();
        }
      })();
    };
    return { calls, runner };
  }

  it('returns the stale value at once and regenerates in the background', async () => {
    const { calls, runner } = fixture();
    const clock = new ManualClock();
    const region = makeRegion({ clock, asyncCreationRunner: runner }).configure(new MapBackend(), {
      expirationTime: 0.2,
    });
    const someValue = () => 'some value';
    const someNewValue = () => 'some new value';
    expect(await region.getOrCreate('some key', someValue)).toBe('some value');
    expect(calls).toHaveLength(0); // no value yet: created inline
    clock.advance(500);
    expect(await region.getOrCreate('some key', someNewValue)).toBe('some value');
    await settle();
    expect(await region.getOrCreate('some key', someNewValue)).toBe('some new value');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.region).toBe(region);
    expect(calls[0]!.key).toBe('some key');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('leaves the mutex to the runner: held until the runner releases it', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let held: CacheMutex | undefined;
    let runs = 0;
    const region = makeRegion({
      clock,
      asyncCreationRunner: (r, key, creator, mutex) => {
        runs++;
        held = mutex;
        void (async () => {
          await gate.promise;
          await r.set(key, await creator());
          await mutex.release();
        })();
      },
    }).configure(new MapBackend(), { expirationTime: 1 });
    await region.set('k', 'stale');
    clock.advance(2000);
    let creatorCalls = 0;
    const creator = (suffix: string) => {
      creatorCalls++;
      return `fresh ${suffix}`;
    };
    expect(await region.getOrCreate('k', creator, { creatorArgs: ['x'] })).toBe('stale');
    // getOrCreate has returned; the lock is still held, by the runner.
    expect(await region.keyIsLocked('k')).toBe(true);
    expect(await held!.locked()).toBe(true);
    // Others meanwhile get the stale value and do not start a second runner.
    expect(await region.getOrCreate('k', creator, { creatorArgs: ['y'] })).toBe('stale');
    expect(runs).toBe(1);
    expect(creatorCalls).toBe(0);
    gate.resolve();
    await settle();
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(await region.get('k')).toBe('fresh x'); // creatorArgs reached the runner's creator
    expect(creatorCalls).toBe(1);
  });
});
