import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheRegion, makeRegion } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../src/index.js';

/** Creators of one key running at once: `max` must stay 1. */
class Overlap {
  running = 0;
  max = 0;
  total = 0;
  async around<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    this.total++;
    this.max = Math.max(this.max, this.running);
    try {
      return await fn();
    } finally {
      this.running--;
    }
  }
}

async function churn(region: CacheRegion, disturb: (round: number) => void | Promise<void>) {
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const overlaps = new Map(keys.map((key) => [key, new Overlap()]));
  let done = false;
  const chaos = (async () => {
    for (let round = 0; !done; round++) {
      await sleep(Math.random() * 3);
      await disturb(round);
    }
  })();
  await Promise.all(
    keys.flatMap((key) =>
      Array.from({ length: 12 }, async () => {
        const overlap = overlaps.get(key)!;
        for (let i = 0; i < 15; i++) {
          const value = await region.getOrCreate(key, () =>
            overlap.around(async () => {
              await sleep(Math.random() * 3);
              return `${key}:${overlap.total}`;
            }),
          );
          expect(value.startsWith(`${key}:`)).toBe(true);
          await sleep(Math.random() * 2);
        }
      }),
    ),
  );
  done = true;
  await chaos;
  for (const [key, overlap] of overlaps) {
    expect(overlap.max, `creators of ${key} at once`).toBe(1);
    expect(overlap.total, `regenerations of ${key}`).toBeGreaterThan(3);
  }
  expect(region.lockedKeyCount).toBe(0);
}

describe('a region over MemoryBackend under contention', () => {
  it('MemoryBackend.clear() at random moments never lets two creators run at once for one key', async () => {
    const backend = new MemoryBackend();
    const region = makeRegion().configure(backend, { expirationTime: '20ms' });
    await churn(region, () => backend.clear());
  });

  it('hard and soft invalidations mixed with clear() never let two creators run at once', async () => {
    const backend = new MemoryBackend({ serialize: true });
    const region = makeRegion().configure(backend, { expirationTime: '20ms' });
    await churn(region, (round) => {
      if (round % 3 === 0) return region.invalidate({ hard: true });
      if (round % 3 === 1) return region.invalidate({ hard: false });
      backend.clear();
    });
  });

  it('LRU eviction of values being regenerated never lets two creators run at once', async () => {
    const backend = new MemoryBackend({ maxEntries: 2 });
    const region = makeRegion().configure(backend, { expirationTime: '20ms' });
    await churn(region, async () => {
      await region.set(`filler-${Math.random()}`, 0);
    });
    expect(backend.size).toBeLessThanOrEqual(2);
  });

  it('100,000 distinct keys through getOrCreate leave no lock behind', async () => {
    const backend = new MemoryBackend({ maxEntries: 10_000 });
    const region = makeRegion().configure(backend);
    let peak = 0;
    for (let start = 0; start < 100_000; start += 25_000) {
      await Promise.all(
        Array.from({ length: 25_000 }, (_, i) =>
          region.getOrCreate(`key:${start + i}`, async () => {
            peak = Math.max(peak, region.lockedKeyCount);
            await Promise.resolve();
            return i;
          }),
        ),
      );
    }
    expect(peak).toBeGreaterThan(1000);
    expect(region.lockedKeyCount).toBe(0);
    expect(backend.size).toBe(10_000);
  }, 120_000); // A correctness check, not a speed one: a loaded CI machine may take long.
});
