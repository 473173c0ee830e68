import { makeRegion } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { makeBackend, noServers, sleep, targets, uniquePrefix } from './helpers.js';

describe.skipIf(noServers).each(targets)('regions on RedisBackend ($name)', (target) => {
  const p = uniquePrefix(`region-${target.name}`);

  it('several regions (as in several processes) on a cold key: one creator, one value', async () => {
    const regions = [0, 1, 2].map(() =>
      makeRegion().configure(makeBackend(target, { distributedLock: true }), {
        expirationTime: 60,
      }),
    );
    let runs = 0;
    const values = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        regions[i % 3]!.getOrCreate(`${p}cold`, async () => {
          runs++;
          await sleep(100);
          return `made ${runs}`;
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(new Set(values)).toEqual(new Set(['made 1']));
  });

  it('softTimeout: the regeneration left to the background keeps the lock; the other region serves the stale value, one creation in all', async () => {
    const region = () =>
      makeRegion({ softTimeout: '50ms' }).configure(
        makeBackend(target, { distributedLock: true }),
        { expirationTime: 0.2 },
      );
    const [a, b] = [region(), region()];
    const key = `${p}soft`;
    await a.getOrCreate(key, () => 'old');
    await sleep(250);
    let runs = 0;
    let finish!: (value: string) => void;
    const slow = () => {
      runs++;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    };
    expect(await a.getOrCreate(key, slow)).toBe('old');
    expect(await b.keyIsLocked(key)).toBe(true);
    expect(await b.getOrCreate(key, slow)).toBe('old');
    finish('new');
    await sleep(100);
    expect(await b.getOrCreate(key, slow)).toBe('new');
    expect(runs).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('serves the stale value at once while another region regenerates it', async () => {
    const a = makeRegion().configure(makeBackend(target, { distributedLock: true }), {
      expirationTime: 0.2,
    });
    const b = makeRegion().configure(makeBackend(target, { distributedLock: true }), {
      expirationTime: 0.2,
    });
    await a.set(`${p}stale`, 'old');
    await sleep(300);
    let release!: () => void;
    const regenerating = a.getOrCreate(
      `${p}stale`,
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve('new');
        }),
    );
    await sleep(50); // a holds the distributed lock and is creating
    const started = performance.now();
    expect(await b.getOrCreate(`${p}stale`, () => 'b should not create')).toBe('old');
    expect(performance.now() - started).toBeLessThan(100);
    expect(await b.keyIsLocked(`${p}stale`)).toBe(true);
    release();
    expect(await regenerating).toBe('new');
    expect(await b.getOrCreate(`${p}stale`, () => 'b should not create')).toBe('new');
    expect(await b.keyIsLocked(`${p}stale`)).toBe(false);
  });

  it('without distributedLock each region creates on its own', async () => {
    const regions = [0, 1].map(() =>
      makeRegion().configure(makeBackend(target), { expirationTime: 60 }),
    );
    let runs = 0;
    await Promise.all(
      regions.map((region) =>
        region.getOrCreate(`${p}nolock`, async () => {
          runs++;
          await sleep(50);
          return 1;
        }),
      ),
    );
    expect(runs).toBe(2);
  });

  it('getOrCreateMulti creates the missing keys together, across slots', async () => {
    const region = makeRegion().configure(makeBackend(target, { distributedLock: true }), {
      expirationTime: 60,
    });
    await region.set(`${p}m2`, 'cached');
    const keys = [`${p}m1`, `${p}m2`, `${p}m3`, `${p}{tag}m4`];
    const asked: string[][] = [];
    const values = await region.getOrCreateMulti(keys, (...missing) => {
      asked.push(missing);
      return missing.map((key) => `made ${key}`);
    });
    expect(asked).toEqual([[`${p}m1`, `${p}m3`, `${p}{tag}m4`].sort()]);
    expect(values).toEqual([`made ${p}m1`, 'cached', `made ${p}m3`, `made ${p}{tag}m4`]);
    expect(await region.getMulti(keys)).toEqual(values);
  });
});
