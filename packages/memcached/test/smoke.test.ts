import { CachedValue, NO_VALUE } from '@dogpile/core';
import { expect, it } from 'vitest';
import { makeBackend, single, trio, uniquePrefix } from './helpers.js';

it('smoke', async () => {
  for (const t of [single, trio]) {
    const b = makeBackend(t, { distributedLock: true, lockTimeout: 1 });
    const p = uniquePrefix('smoke');
    expect(await b.get(`${p}a`)).toBe(NO_VALUE);
    await b.set(`${p}a`, new CachedValue(1, { ct: 1, v: 2 }));
    expect(((await b.get(`${p}a`)) as CachedValue).payload).toBe(1);
    const m = b.getMutex(`${p}a`)!;
    expect(await m.acquire(false)).toBe(true);
    const m2 = b.getMutex(`${p}a`)!;
    expect(await m2.acquire(false)).toBe(false);
    await m.release();
    expect(await m2.acquire(false)).toBe(true);
    await m2.release();
  }
});
