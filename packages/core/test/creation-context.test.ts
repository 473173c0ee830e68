import { describe, expect, it } from 'vitest';
import {
  CachedCreatorError,
  type CreationContext,
  CreatorTimeoutError,
  isNoValue,
  makeRegion,
  NO_VALUE,
  RegionClosedError,
  ValidationError,
} from '../src/index.js';
import { deferred, ManualClock, MapBackend, settle, sleep } from './helpers.js';

describe("the creator's context", () => {
  it('comes after creatorArgs, with the key and the value it replaces', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 10 });
    const seen: Array<{ args: unknown[]; key: string; stale: unknown }> = [];
    const creator = (...args: unknown[]) => {
      const ctx = args.at(-1) as CreationContext<string>;
      seen.push({ args: args.slice(0, -1), key: ctx.key, stale: ctx.staleValue });
      expect(ctx.signal.aborted).toBe(false);
      return `v${seen.length}`;
    };
    expect(await region.getOrCreate('k', creator, { creatorArgs: [1, 'two'] })).toBe('v1');
    clock.advance(11_000);
    expect(await region.getOrCreate('k', creator, { creatorArgs: [3] })).toBe('v2');
    expect(seen[0]).toEqual({ args: [1, 'two'], key: 'k', stale: NO_VALUE });
    expect(isNoValue(seen[0]!.stale)).toBe(true);
    expect(seen[1]).toEqual({ args: [3], key: 'k', stale: 'v1' });
  });

  it('setExpirationTime shortens the life of this value only', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 600 });
    let runs = 0;
    const partial = async (ctx: CreationContext) => {
      runs++;
      ctx.setExpirationTime('30s');
      return 'partial';
    };
    await region.getOrCreate('k', partial);
    clock.advance(29_000);
    await region.getOrCreate('k', partial);
    expect(runs).toBe(1);
    clock.advance(2_000);
    await region.getOrCreate('k', partial);
    expect(runs).toBe(2);
    // A value without it lives the region's 600 s.
    await region.getOrCreate('other', () => 'full');
    clock.advance(500_000);
    expect(await region.get('other')).toBe('full');
  });

  it('a value with a shorter life created after an invalidate() is not retired by it', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 600 });
    await region.invalidate();
    clock.advance(1_000);
    let runs = 0;
    const partial = (ctx: CreationContext) => {
      runs++;
      ctx.setExpirationTime('30s');
      return 'partial';
    };
    await region.getOrCreate('k', partial);
    clock.advance(10_000);
    expect(await region.getOrCreate('k', partial)).toBe('partial');
    expect(await region.get('k')).toBe('partial');
    expect(runs).toBe(1);
    // Its life is in its metadata; the creation time is the true one.
    const stored = await region.getValueMetadata('k');
    expect(stored?.metadata.et).toBe(30);
    expect(stored?.age).toBeCloseTo(10, 3);
  });

  it('setExpirationTime can only shorten, and needs an expiration time', async () => {
    const region = makeRegion().configure(new MapBackend(), { expirationTime: 60 });
    await expect(
      region.getOrCreate('k', (ctx: CreationContext) => ctx.setExpirationTime('2m')),
    ).rejects.toThrow(/only shorten/);
    const forever = makeRegion().configure(new MapBackend());
    await expect(
      forever.getOrCreate('k', (ctx: CreationContext) => ctx.setExpirationTime(5)),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      region.getOrCreate('k2', (ctx: CreationContext) => ctx.setExpirationTime('soon' as never)),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('skip() returns the value without caching it', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    const value = await region.getOrCreate('k', (ctx: CreationContext) => {
      ctx.skip();
      return 'not for keeping';
    });
    expect(value).toBe('not for keeping');
    expect(backend.store.size).toBe(0);
    expect(await region.get('k')).toBe(NO_VALUE);
  });
});

describe('hardTimeout', () => {
  it('aborts the creator through its signal, fails the callers with CreatorTimeoutError, and frees the key', async () => {
    const region = makeRegion({ hardTimeout: '50ms' }).configure(new MapBackend());
    let signal: AbortSignal | undefined;
    const hanging = (ctx: CreationContext) => {
      signal = ctx.signal;
      return new Promise<string>(() => {});
    };
    const started = performance.now();
    const [first, waiter] = await Promise.allSettled([
      region.getOrCreate('k', hanging),
      region.getOrCreate('k', hanging),
    ]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(first.status === 'rejected' && first.reason).toBeInstanceOf(CreatorTimeoutError);
    expect(waiter.status === 'rejected' && waiter.reason).toBeInstanceOf(CreatorTimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(CreatorTimeoutError);
    expect(region.lockedKeyCount).toBe(0);
    expect(await region.getOrCreate('k', () => 'quick')).toBe('quick');
  });

  it('per call, and with staleIfError the stale value is served', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 10 });
    await region.getOrCreate('k', () => 'old');
    clock.advance(11_000);
    const value = await region.getOrCreate('k', () => new Promise<string>(() => {}), {
      hardTimeout: 0.05,
      staleIfError: '1h',
    });
    expect(value).toBe('old');
  });

  it('a late result of an aborted creator is dropped, not stored', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    const late = deferred<string>();
    await expect(
      region.getOrCreate('k', () => late.promise, { hardTimeout: '20ms' }),
    ).rejects.toBeInstanceOf(CreatorTimeoutError);
    late.resolve('too late');
    await settle();
    expect(backend.store.size).toBe(0);
  });

  it.each([0, 'soon', -5])('rejects hardTimeout %j', (bad) => {
    expect(() => makeRegion({ hardTimeout: bad as never })).toThrow(ValidationError);
  });
});

describe('close() aborts running creators', () => {
  it('their signal aborts with RegionClosedError, which their callers get', async () => {
    const region = makeRegion().configure(new MapBackend());
    let signal: AbortSignal | undefined;
    const call = region.getOrCreate('k', (ctx: CreationContext) => {
      signal = ctx.signal;
      return new Promise<string>(() => {});
    });
    await settle();
    await region.close();
    await expect(call).rejects.toBeInstanceOf(RegionClosedError);
    expect(signal?.reason).toBeInstanceOf(RegionClosedError);
  });
});

describe('cacheErrorsFor', () => {
  it('gives the remembered error (as the cause) without running the creator, until it expires', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock, cacheErrorsFor: '10s' }).configure(new MapBackend());
    let runs = 0;
    const failing = () => {
      runs++;
      throw new Error('dependency down');
    };
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('dependency down');
    const error = await region.getOrCreate('k', failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CachedCreatorError);
    expect((error as Error).cause).toEqual(new Error('dependency down'));
    expect(runs).toBe(1);
    clock.advance(10_001);
    await expect(region.getOrCreate('k', failing)).rejects.toThrow('dependency down');
    expect(runs).toBe(2);
    // Another key is not affected.
    expect(await region.getOrCreate('other', () => 'fine')).toBe('fine');
  });

  it('callers with a stale value get it; a set() through the region forgets the error', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 5 });
    await region.getOrCreate('k', () => 'old');
    clock.advance(6_000);
    const failing = () => {
      throw new Error('down');
    };
    const options = { cacheErrorsFor: 60 };
    await expect(region.getOrCreate('k', failing, options)).rejects.toThrow('down');
    expect(await region.getOrCreate('k', failing, options)).toBe('old');
    await region.delete('k');
    await expect(region.getOrCreate('k', failing, options)).rejects.toThrow('down');
    await region.set('k', 'new');
    expect(await region.getOrCreate('k', failing, options)).toBe('new');
  });

  it('is off by default: a failing creator runs on every call', async () => {
    const region = makeRegion().configure(new MapBackend());
    let runs = 0;
    for (let i = 0; i < 3; i++) {
      await region
        .getOrCreate('k', () => {
          runs++;
          throw new Error('x');
        })
        .catch(() => undefined);
    }
    expect(runs).toBe(3);
  });
});

describe('softTimeout', () => {
  function staleRegion(
    options: { softTimeout?: number | string | null } = { softTimeout: '50ms' },
  ) {
    const clock = new ManualClock();
    const backend = new MapBackend();
    const region = makeRegion({ clock, ...(options as object) }).configure(backend, {
      expirationTime: 10,
    });
    return { clock, backend, region };
  }

  it('gives the stale value once the regeneration has run that long; it finishes in the background', async () => {
    const { clock, region } = staleRegion();
    await region.getOrCreate('k', () => 'old');
    clock.advance(11_000);
    const slow = deferred<string>();
    let runs = 0;
    const creator = () => {
      runs++;
      return slow.promise;
    };
    const started = performance.now();
    expect(await region.getOrCreate('k', creator)).toBe('old');
    expect(performance.now() - started).toBeGreaterThanOrEqual(40);
    // Still one creation: the others get the stale value, the lock is held by the background.
    expect(await region.getOrCreate('k', creator)).toBe('old');
    expect(await region.keyIsLocked('k')).toBe(true);
    slow.resolve('new');
    await sleep(20);
    expect(await region.get('k')).toBe('new');
    expect(runs).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
    expect(region.backgroundRefreshCount).toBe(0);
  });

  it('a regeneration that finishes sooner is returned as usual', async () => {
    const { clock, region } = staleRegion({ softTimeout: '2s' });
    await region.getOrCreate('k', () => 'old');
    clock.advance(11_000);
    expect(
      await region.getOrCreate('k', async () => {
        await sleep(5);
        return 'new';
      }),
    ).toBe('new');
  });

  it('a failure within the window reaches the caller; one after it is reported, the caller had the stale value', async () => {
    const { clock, region } = staleRegion();
    await region.getOrCreate('k', () => 'old');
    clock.advance(11_000);
    await expect(
      region.getOrCreate('k', () => Promise.reject(new Error('quick failure'))),
    ).rejects.toThrow('quick failure');
    const late = deferred<string>();
    expect(await region.getOrCreate('k', () => late.promise)).toBe('old');
    late.reject(new Error('late failure'));
    await sleep(20);
    expect(region.lockedKeyCount).toBe(0);
    expect(await region.get('k', { ignoreExpiration: true })).toBe('old');
  });

  it('without a value callers wait for the creator, whatever softTimeout says', async () => {
    const { region } = staleRegion();
    const started = performance.now();
    expect(
      await region.getOrCreate('k', async () => {
        await sleep(120);
        return 'made';
      }),
    ).toBe('made');
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('is off by default: the caller waits for the regeneration', async () => {
    const { clock, region } = staleRegion({});
    await region.getOrCreate('k', () => 'old');
    clock.advance(11_000);
    expect(
      await region.getOrCreate('k', async () => {
        await sleep(80);
        return 'new';
      }),
    ).toBe('new');
  });
});
