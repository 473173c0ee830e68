import { describe, expect, it } from 'vitest';
import {
  CachedValue,
  type CacheRegion,
  type Duration,
  lengthConditionalMangler,
  makeRegion,
  NO_VALUE,
  type RegionOptions,
  sha1MangleKey,
  ValidationError,
} from '../src/index.js';
import { deferred, ManualClock, MapBackend, settle } from './helpers.js';

function setup(options: RegionOptions = {}, expirationTime?: Duration) {
  const clock = new ManualClock();
  const backend = new MapBackend();
  const region = makeRegion({ clock, ...options }).configure(
    backend,
    expirationTime === undefined ? {} : { expirationTime },
  );
  return { clock, backend, region };
}

/** dogpile's `itertools.count(1)` creators. */
function counter(prefix = 'some value') {
  const fn = () => `${prefix} ${++fn.calls}`;
  fn.calls = 0;
  return fn;
}

describe('CacheRegion get / set / delete', () => {
  it('sets and gets a value', async () => {
    const { region } = setup();
    await region.set('some key', 'some value');
    expect(await region.get('some key')).toBe('some value');
  });

  it('gives NO_VALUE for a missing key, with or without an expiration or an invalidation', async () => {
    const { region } = setup();
    expect(await region.get('some key')).toBe(NO_VALUE);
    expect(await region.get('some key', { expirationTime: 10 })).toBe(NO_VALUE);
    await region.invalidate();
    expect(await region.get('some key')).toBe(NO_VALUE);
  });

  it('caches null and undefined as values, distinct from NO_VALUE', async () => {
    const { region } = setup();
    await region.set('n', null);
    await region.set('u', undefined);
    expect(await region.get('n')).toBeNull();
    expect(await region.get('u')).toBeUndefined();
    let calls = 0;
    const creator = () => {
      calls++;
      return null;
    };
    expect(await region.getOrCreate('c', creator)).toBeNull();
    expect(await region.getOrCreate('c', creator)).toBeNull();
    expect(calls).toBe(1);
  });

  it('deletes, and deleting a missing key is fine', async () => {
    const { region } = setup();
    await region.set('some key', 'some value');
    await region.delete('some key');
    await region.delete('some key');
    expect(await region.get('some key')).toBe(NO_VALUE);
  });

  it('setMulti / getMulti / deleteMulti each make one backend call', async () => {
    const { region, backend } = setup();
    await region.setMulti({ key1: 'value1', key2: 'value2', key3: 'value3' });
    await region.setMulti(new Map([['key4', 'value4']]));
    expect(backend.calls.setMulti).toBe(2);
    expect(backend.calls.set).toBe(0);
    expect(await region.getMulti(['key3', 'nope', 'key1', 'key4'])).toEqual([
      'value3',
      NO_VALUE,
      'value1',
      'value4',
    ]);
    expect(backend.calls.getMulti).toBe(1);
    expect(backend.calls.get).toBe(0);
    await region.deleteMulti(['key2', 'key1000']);
    expect(backend.calls.deleteMulti).toBe(1);
    expect(await region.getMulti(['key1', 'key2', 'key3'])).toEqual(['value1', NO_VALUE, 'value3']);
  });

  it('empty multi calls do not reach the backend', async () => {
    const { region, backend } = setup();
    expect(await region.getMulti([])).toEqual([]);
    await region.setMulti({});
    await region.deleteMulti([]);
    expect(await region.getOrCreateMulti([], () => [])).toEqual([]);
    expect(backend.calls).toMatchObject({ getMulti: 0, setMulti: 0, deleteMulti: 0 });
  });

  it('setMulti stamps every value with the same creation time', async () => {
    const { region, clock } = setup();
    await region.setMulti({ a: 1, b: 2 });
    const [a, b] = [await region.getValueMetadata('a'), await region.getValueMetadata('b')];
    expect(a!.metadata.ct).toBe(clock.ms / 1000);
    expect(b!.metadata).toEqual(a!.metadata);
  });

  it('rejects keys that are not strings', async () => {
    const { region } = setup();
    await expect(region.get(42 as unknown as string)).rejects.toBeInstanceOf(ValidationError);
    await expect(region.set(null as unknown as string, 1)).rejects.toBeInstanceOf(ValidationError);
  });

  it('getOrCreate never throws: bad input and an unusable region reject its promise', async () => {
    const { region } = setup();
    const calls: Array<() => Promise<unknown>> = [
      () => region.getOrCreate(42 as never, () => 1),
      () => region.getOrCreate('x\uD800', () => 1),
      () => region.getOrCreate('k', 'nope' as never),
      () => region.getOrCreate('k', () => 1, { expirationTime: 'soon' as never }),
      () => makeRegion().getOrCreate('k', () => 1),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(Error);
    }
    await region.close();
    await expect(region.getOrCreate('k', () => 1)).rejects.toThrow(/closed/i);
  });
});

describe('getValueMetadata', () => {
  it('returns the CachedValue with ct in float seconds and v 2', async () => {
    const { region, clock } = setup({}, 60);
    clock.ms = 1_700_000_000_123.5;
    await region.set('k', { a: 1 });
    const value = await region.getValueMetadata('k');
    expect(value).toBeInstanceOf(CachedValue);
    expect(value!.payload).toEqual({ a: 1 });
    expect(value!.metadata).toEqual({ ct: 1_700_000_000.1235, v: 2 });
    expect(value!.cachedTime).toBe(1_700_000_000.1235);
  });

  it('returns null when missing, expired or invalidated, unless ignoreExpiration', async () => {
    const { region, clock } = setup({}, 1);
    expect(await region.getValueMetadata('k')).toBeNull();
    await region.set('k', 'v');
    clock.advance(1001);
    expect(await region.getValueMetadata('k')).toBeNull();
    expect((await region.getValueMetadata('k', { ignoreExpiration: true }))!.payload).toBe('v');
  });
});

describe('getOrCreate', () => {
  it('calls the creator once and then serves the cached value', async () => {
    const { region } = setup();
    const creator = counter();
    expect(await region.getOrCreate('some key', creator)).toBe('some value 1');
    expect(await region.getOrCreate('some key', creator)).toBe('some value 1');
    expect(creator.calls).toBe(1);
  });

  it('awaits an async creator', async () => {
    const { region } = setup();
    expect(await region.getOrCreate('k', async () => ({ deep: [1, 2] }))).toEqual({ deep: [1, 2] });
    expect(await region.get('k')).toEqual({ deep: [1, 2] });
  });

  it('passes creatorArgs to the creator', async () => {
    const { region } = setup();
    const value = await region.getOrCreate('k', (a: number, b: string) => `${a}-${b}`, {
      creatorArgs: [7, 'x'],
    });
    expect(value).toBe('7-x');
  });

  it('returns but does not cache a value that shouldCacheFn rejects (dogpile test_should_cache_fn)', async () => {
    const { region, backend, clock } = setup();
    const values = [1, 2, 3];
    const creator = () => values.shift()!;
    const shouldCacheFn = (value: number) => value === 1 || value === 3;
    const cached = () => (backend.store.get('some key') as CachedValue).payload;

    expect(await region.getOrCreate('some key', creator, { shouldCacheFn })).toBe(1);
    expect(cached()).toBe(1);
    clock.advance(1);
    await region.invalidate();
    clock.advance(1);
    expect(await region.getOrCreate('some key', creator, { shouldCacheFn })).toBe(2);
    expect(cached()).toBe(1);
    clock.advance(1);
    await region.invalidate();
    clock.advance(1);
    expect(await region.getOrCreate('some key', creator, { shouldCacheFn })).toBe(3);
    expect(cached()).toBe(3);
  });

  it('rejects a creator that is not a function', async () => {
    const { region } = setup();
    await expect(region.getOrCreate('k', 'nope' as never)).rejects.toBeInstanceOf(ValidationError);
  });

  it('a throwing creator releases the lock, the error reaches the caller, and the next caller creates', async () => {
    const { region } = setup();
    const boom = new Error('creator failed');
    await expect(
      region.getOrCreate('k', () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(region.lockedKeyCount).toBe(0);
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getOrCreate('k', () => 'second try')).toBe('second try');
  });

  it('a caller waiting on a creator that throws goes on to create the value itself', async () => {
    const { region } = setup();
    const gate = deferred();
    const boom = new Error('first creator failed');
    const first = region.getOrCreate('k', async () => {
      await gate.promise;
      throw boom;
    });
    await settle();
    let secondCalls = 0;
    const second = region.getOrCreate('k', () => {
      secondCalls++;
      return 'from the second caller';
    });
    await settle();
    expect(secondCalls).toBe(0); // it waits for the first creator
    gate.resolve();
    await expect(first).rejects.toBe(boom);
    expect(await second).toBe('from the second caller');
    expect(secondCalls).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('a nested getOrCreate on another key inside a creator does not deadlock', async () => {
    const { region } = setup();
    const value = await region.getOrCreate('outer', async () => {
      const inner = await region.getOrCreate('inner', async () => 'inner value');
      const innerAgain = await region.getOrCreate('inner', () => 'not called');
      return `outer(${inner}, ${innerAgain})`;
    });
    expect(value).toBe('outer(inner value, inner value)');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('keyIsLocked is true while the creator runs', async () => {
    const { region } = setup();
    const gate = deferred();
    const running = region.getOrCreate('k', async () => {
      await gate.promise;
      return 'v';
    });
    await settle();
    expect(await region.keyIsLocked('k')).toBe(true);
    expect(await region.keyIsLocked('other')).toBe(false);
    expect(region.lockedKeyCount).toBe(1);
    gate.resolve();
    await running;
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe('expiration', () => {
  it('expires after expirationTime seconds (dogpile test_expire)', async () => {
    const { region, clock } = setup({}, 1);
    const creator = counter();
    expect(await region.getOrCreate('some key', creator)).toBe('some value 1');
    clock.advance(1000);
    expect(await region.get('some key')).toBe('some value 1'); // exactly 1 s old: still fresh
    clock.advance(1);
    expect(await region.get('some key')).toBe(NO_VALUE);
    expect(await region.get('some key', { ignoreExpiration: true })).toBe('some value 1');
    expect(await region.getOrCreate('some key', creator)).toBe('some value 2');
    expect(await region.get('some key')).toBe('some value 2');
  });

  it("accepts duration strings such as '250ms'", async () => {
    const { region, clock } = setup({}, '250ms');
    expect(region.expirationTime).toBe(0.25);
    await region.set('k', 'v');
    clock.advance(250);
    expect(await region.get('k')).toBe('v');
    clock.advance(1);
    expect(await region.get('k')).toBe(NO_VALUE);
  });

  it('never expires with -1 or without an expiration time', async () => {
    for (const expirationTime of [-1, undefined]) {
      const { region, clock } = setup({}, expirationTime);
      expect(region.expirationTime).toBeNull();
      const creator = counter();
      await region.getOrCreate('k', creator);
      clock.advance(10 * 365 * 86400_000);
      expect(await region.get('k')).toBe('some value 1');
      expect(await region.getOrCreate('k', creator)).toBe('some value 1');
    }
  });

  it('overrides the expiration per get (dogpile test_override_expire_on_get)', async () => {
    const { region, clock } = setup({}, 0.5);
    await region.set('some key', 'some value');
    clock.advance(1000);
    expect(await region.get('some key', { expirationTime: 5 })).toBe('some value');
    expect(await region.get('some key', { expirationTime: '5s' })).toBe('some value');
    expect(await region.get('some key')).toBe(NO_VALUE);
    expect(await region.getMulti(['some key'], { expirationTime: 5 })).toEqual(['some value']);
    expect(await region.getMulti(['some key'])).toEqual([NO_VALUE]);
    expect(await region.getMulti(['some key'], { ignoreExpiration: true })).toEqual(['some value']);
    expect(await region.get('some key', { expirationTime: -1 })).toBe('some value');
  });

  it('overrides the expiration per getOrCreate call, without persisting it (dogpile test_expire_override)', async () => {
    const { region, clock } = setup({}, 5);
    const creator = counter();
    expect(await region.getOrCreate('some key', creator, { expirationTime: 1 })).toBe(
      'some value 1',
    );
    clock.advance(2000);
    expect(await region.get('some key')).toBe('some value 1');
    expect(await region.getOrCreate('some key', creator, { expirationTime: 1 })).toBe(
      'some value 2',
    );
    expect(await region.get('some key')).toBe('some value 2');
    clock.advance(2000);
    expect(await region.getOrCreate('some key', creator, { expirationTime: -1 })).toBe(
      'some value 2',
    );
  });

  it('rejects a bad expiration time with a ValidationError', async () => {
    const { region } = setup();
    expect(() =>
      makeRegion().configure(new MapBackend(), { expirationTime: 'one hour' as never }),
    ).toThrow(ValidationError);
    expect(() => makeRegion().configure(new MapBackend(), { expirationTime: -5 })).toThrow(
      ValidationError,
    );
    await expect(region.get('k', { expirationTime: 'soon' as never })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      region.getOrCreate('k', () => 1, { expirationTime: Number.NaN }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('invalidation', () => {
  it('hard invalidation turns existing values into misses (dogpile test_invalidate_get)', async () => {
    const { region, clock } = setup();
    await region.set('some key', 'some value');
    clock.advance(1);
    await region.invalidate();
    expect(await region.get('some key')).toBe(NO_VALUE);
    expect(await region.get('some key', { ignoreExpiration: true })).toBe('some value');
    expect(region.regionInvalidator.wasHardInvalidated()).toBe(true);
  });

  it('getOrCreate regenerates after a hard invalidation, and later values are kept (dogpile test_invalidate_get_or_create)', async () => {
    const { region, clock } = setup();
    const creator = counter();
    expect(await region.getOrCreate('some key', creator)).toBe('some value 1');
    clock.advance(1);
    await region.invalidate();
    clock.advance(1);
    expect(await region.getOrCreate('some key', creator)).toBe('some value 2');
    expect(await region.getOrCreate('some key', creator)).toBe('some value 2');
    expect(await region.get('some key')).toBe('some value 2');
  });

  it('soft invalidation makes values stale: get misses, getOrCreate regenerates', async () => {
    const { region, clock } = setup({}, 60);
    const creator = counter();
    await region.getOrCreate('k', creator);
    clock.advance(1);
    await region.invalidate({ hard: false });
    expect(region.regionInvalidator.wasSoftInvalidated()).toBe(true);
    clock.advance(1);
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getOrCreate('k', creator)).toBe('some value 2');
    expect(await region.get('k')).toBe('some value 2');
  });

  it('soft invalidation without an expiration time is a ValidationError', async () => {
    const { region, clock } = setup();
    await region.set('present', 'old');
    clock.advance(1);
    await region.invalidate({ hard: false });
    clock.advance(1);
    await expect(region.getOrCreate('present', () => 'new')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(region.getOrCreate('absent', () => 'new')).rejects.toBeInstanceOf(ValidationError);
    await expect(region.getOrCreateMulti(['absent'], () => ['new'])).rejects.toBeInstanceOf(
      ValidationError,
    );
    // ...unless the call brings its own expiration time.
    expect(await region.getOrCreate('present', () => 'new', { expirationTime: 60 })).toBe('new');
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe('key manglers', () => {
  const hi = (key: string) => `HI!${key}`;

  it("applies the region's mangler to every operation (dogpile test_key_mangler_impl)", async () => {
    const { region, backend } = setup({ keyMangler: hi });
    await region.set('some key', 'some value');
    expect([...backend.store.keys()]).toEqual(['HI!some key']);
    expect(await region.get('some key')).toBe('some value');
    expect(await region.getOrCreate('some key', () => 'some new value')).toBe('some value');
    expect(await region.getMulti(['some key'])).toEqual(['some value']);
    expect(
      await region.getOrCreateMulti(['some key', 'other'], (...keys) =>
        keys.map((k) => `new ${k}`),
      ),
    ).toEqual(['some value', 'new other']);
    expect([...backend.store.keys()].sort()).toEqual(['HI!other', 'HI!some key']);
    await region.delete('some key');
    expect(await region.get('some key')).toBe(NO_VALUE);
    await region.deleteMulti(['other']);
    expect(backend.store.size).toBe(0);
  });

  it("uses the backend's own mangler unless the region has one", async () => {
    const backend = new MapBackend();
    backend.keyMangler = sha1MangleKey;
    const region = makeRegion().configure(backend);
    await region.set('some key', 'v');
    expect([...backend.store.keys()]).toEqual([sha1MangleKey('some key')]);
    expect(sha1MangleKey('some key')).toMatch(/^[0-9a-f]{40}$/);
    expect(await region.get('some key')).toBe('v');

    const other = new MapBackend();
    other.keyMangler = sha1MangleKey;
    const own = makeRegion({ keyMangler: hi }).configure(other);
    await own.set('some key', 'v');
    expect([...other.store.keys()]).toEqual(['HI!some key']);
  });

  it('keyIsLocked sees the lock under the mangled key', async () => {
    const { region } = setup({ keyMangler: sha1MangleKey });
    const gate = deferred();
    const running = region.getOrCreate('k', () => gate.promise.then(() => 'v'));
    await settle();
    expect(await region.keyIsLocked('k')).toBe(true);
    gate.resolve();
    await running;
    expect(await region.keyIsLocked('k')).toBe(false);
  });

  it('lengthConditionalMangler mangles only long keys', () => {
    const mangle = lengthConditionalMangler(10, sha1MangleKey);
    expect(mangle('short')).toBe('short');
    expect(mangle('a much longer key')).toBe(sha1MangleKey('a much longer key'));
  });

  it('rejects a mangler that is not a function', () => {
    expect(() => makeRegion({ keyMangler: 'sha1' as never })).toThrow(ValidationError);
  });
});

describe('a region not configured, or closed', () => {
  it('throws RegionNotConfiguredError before configure', async () => {
    const region: CacheRegion = makeRegion({ name: 'users' });
    expect(region.isConfigured).toBe(false);
    expect(() => region.backend).toThrow(
      expect.objectContaining({
        code: 'ERR_REGION_NOT_CONFIGURED',
        name: 'RegionNotConfiguredError',
      }),
    );
    await expect(region.get('k')).rejects.toMatchObject({ code: 'ERR_REGION_NOT_CONFIGURED' });
    await expect(region.getOrCreate('k', () => 1)).rejects.toMatchObject({
      code: 'ERR_REGION_NOT_CONFIGURED',
    });
  });

  it('every async method rejects (never throws) when not configured', async () => {
    const region = makeRegion();
    const calls: Array<() => Promise<unknown>> = [
      () => region.get('k'),
      () => region.getMulti(['k']),
      () => region.getValueMetadata('k'),
      () => region.getOrCreate('k', () => 1),
      () => region.getOrCreateMulti(['k'], () => [1]),
      () => region.set('k', 1),
      () => region.setMulti({ k: 1 }),
      () => region.delete('k'),
      () => region.deleteMulti(['k']),
      () => region.invalidateTags(['t']),
      () => region.keyIsLocked('k'),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }, call.toString()).not.toThrow();
      await expect(promise).rejects.toMatchObject({ code: 'ERR_REGION_NOT_CONFIGURED' });
    }
  });
});
