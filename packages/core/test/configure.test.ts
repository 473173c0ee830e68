import { describe, expect, it } from 'vitest';
import {
  type CacheBackend,
  type CachedValue,
  DefaultInvalidationStrategy,
  DogpileError,
  getBackendFactory,
  makeRegion,
  NO_VALUE,
  NullBackend,
  PluginNotFoundError,
  ProxyBackend,
  RegionAlreadyConfiguredError,
  RegionNotConfiguredError,
  registerBackend,
  ValidationError,
} from '../src/index.js';
import { MapBackend, OverlapCounter, RecordingProxy, sleep } from './helpers.js';

/** A backend that keeps the arguments it was built with, like dogpile's MockBackend. */
class ArgsBackend extends MapBackend {
  constructor(readonly args: Record<string, unknown>) {
    super();
  }
}
registerBackend('test-args', (args) => new ArgsBackend(args));

describe('configure', () => {
  it('returns the region and records the expiration time in seconds', () => {
    const region = makeRegion({ name: 'my-name' });
    expect(region.name).toBe('my-name');
    expect(makeRegion().name).toBe('default');
    expect(region.configure(new MapBackend(), { expirationTime: '5m' })).toBe(region);
    expect(region.expirationTime).toBe(300);
    expect(region.isConfigured).toBe(true);
  });

  it('refuses a second backend unless replaceExistingBackend (dogpile test_dupe_config)', async () => {
    const region = makeRegion({ name: 'users' });
    const first = new MapBackend();
    region.configure(first);
    const error = (() => {
      try {
        region.configure(new MapBackend());
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(RegionAlreadyConfiguredError);
    expect(error).toBeInstanceOf(DogpileError);
    expect((error as DogpileError).code).toBe('ERR_REGION_ALREADY_CONFIGURED');
    expect((error as Error).message).toContain('replaceExistingBackend');
    expect(region.backend).toBe(first);

    const second = new MapBackend();
    region.configure(second, { replaceExistingBackend: true, expirationTime: 10 });
    expect(region.backend).toBe(second);
    expect(region.expirationTime).toBe(10);
    await region.set('k', 'v');
    expect(second.store.has('k')).toBe(true);
    expect(first.store.has('k')).toBe(false);
  });

  it('throws RegionNotConfiguredError before configure (dogpile test_no_config)', () => {
    const region = makeRegion();
    expect(() => region.backend).toThrow(RegionNotConfiguredError);
    expect(() => region.actualBackend).toThrow(RegionNotConfiguredError);
    expect(region.isConfigured).toBe(false);
  });

  it('after close, every call fails with ERR_REGION_CLOSED, and the backend was closed', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    await region.set('k', 'v');
    await region.close();
    expect(backend.calls.close).toBe(1);
    expect(region.isConfigured).toBe(false);
    await expect(region.get('k')).rejects.toMatchObject({ code: 'ERR_REGION_CLOSED' });
    await expect(region.getOrCreate('k', () => 1)).rejects.toMatchObject({
      code: 'ERR_REGION_CLOSED',
    });
    await expect(region.set('k', 1)).rejects.toBeInstanceOf(DogpileError);
    await region.close(); // closing twice is harmless
    expect(backend.calls.close).toBe(1);
    // It can be given a backend again.
    region.configure(new MapBackend());
    expect(await region.get('k')).toBe(NO_VALUE);
  });

  it('rejects something that is not a backend', () => {
    expect(() => makeRegion().configure({} as CacheBackend)).toThrow(ValidationError);
    expect(() => makeRegion().configure(42 as unknown as CacheBackend)).toThrow(ValidationError);
  });

  it('uses a custom regionInvalidator', async () => {
    const invalidator = new DefaultInvalidationStrategy();
    const region = makeRegion().configure(new MapBackend(), { regionInvalidator: invalidator });
    expect(region.regionInvalidator).toBe(invalidator);
    await region.invalidate({ hard: false });
    expect(invalidator.wasSoftInvalidated()).toBe(true);
  });
});

describe('backends by name', () => {
  it("configures a registered backend by name with its arguments (dogpile 'mock')", () => {
    const region = makeRegion().configure('test-args', { arguments: { url: '127.0.0.1' } });
    expect(region.backend).toBeInstanceOf(ArgsBackend);
    expect((region.backend as ArgsBackend).args).toEqual({ url: '127.0.0.1' });
  });

  it("accepts Python's dogpile.cache.<name> spelling", () => {
    expect(getBackendFactory('dogpile.cache.test-args')).toBe(getBackendFactory('test-args'));
  });

  it("'null' is always registered: the NullBackend", () => {
    const region = makeRegion().configure('null');
    expect(region.backend).toBeInstanceOf(NullBackend);
  });

  it('an unknown name is a PluginNotFoundError that lists the known names', async () => {
    let error: unknown;
    try {
      makeRegion().configure('no-such-backend');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PluginNotFoundError);
    expect((error as DogpileError).code).toBe('ERR_PLUGIN_NOT_FOUND');
    expect((error as Error).message).toContain('no-such-backend');
    expect((error as Error).message).toContain('test-args');
    await expect(
      makeRegion().configureFromConfig({ 'cache.backend': 'no-such-backend' }, 'cache.'),
    ).rejects.toBeInstanceOf(PluginNotFoundError);
  });

  it('registerBackend replaces an earlier factory of the same name', () => {
    registerBackend('test-replaced', () => new MapBackend());
    registerBackend('test-replaced', (args) => new ArgsBackend(args));
    expect(makeRegion().configure('test-replaced').backend).toBeInstanceOf(ArgsBackend);
  });
});

describe('configureFromConfig', () => {
  it('rejects an unknown option of its own', async () => {
    await expect(
      makeRegion().configureFromConfig({ 'c.backend': 'none-such' }, 'c.', {
        resolvefrom: '/',
      } as never),
    ).rejects.toThrow(/no option "resolvefrom"\. Known options: resolveFrom/);
  });

  it('reads backend, expiration and arguments under the prefix (dogpile test_instance_from_dict)', async () => {
    const region = await makeRegion().configureFromConfig(
      {
        'cache.example.backend': 'test-args',
        'cache.example.expiration_time': 600,
        'cache.example.arguments.url': '127.0.0.1',
        'cache.other.backend': 'ignored',
      },
      'cache.example.',
    );
    expect(region.expirationTime).toBe(600);
    expect(region.backend).toBeInstanceOf(ArgsBackend);
    expect((region.backend as ArgsBackend).args).toEqual({ url: '127.0.0.1' });
  });

  it('coerces string values as an .ini file gives them (dogpile test_instance_from_config_string)', async () => {
    const region = await makeRegion().configureFromConfig(
      {
        'cache.example.backend': 'test-args',
        'cache.example.expiration_time': '600',
        'cache.example.arguments.url': '127.0.0.1',
        'cache.example.arguments.dogpile_lockfile': 'false',
        'cache.example.arguments.distributed_lock': 'True',
        'cache.example.arguments.xyz': 'None',
        'cache.example.arguments.lock_timeout': '2.5',
      },
      'cache.example.',
    );
    expect(region.expirationTime).toBe(600);
    // snake_case argument names become camelCase.
    expect((region.backend as ArgsBackend).args).toEqual({
      url: '127.0.0.1',
      dogpileLockfile: false,
      distributedLock: true,
      xyz: null,
      lockTimeout: 2.5,
    });
  });

  it("takes expirationTime spelled either way, 'None' meaning never, and replace_existing_backend", async () => {
    const region = await makeRegion().configureFromConfig(
      { 'c.backend': 'test-args', 'c.expirationTime': '30s' },
      'c.',
    );
    expect(region.expirationTime).toBe(30);
    await expect(
      region.configureFromConfig({ 'c.backend': 'test-args' }, 'c.'),
    ).rejects.toBeInstanceOf(RegionAlreadyConfiguredError);
    await region.configureFromConfig(
      {
        'c.backend': 'test-args',
        'c.expiration_time': 'None',
        'c.replace_existing_backend': 'true',
      },
      'c.',
    );
    expect(region.expirationTime).toBeNull();
  });

  it('a config without a backend is a ValidationError', async () => {
    await expect(
      makeRegion().configureFromConfig({ 'cache.expiration_time': '1' }, 'cache.'),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

class TagProxy extends ProxyBackend {
  static journal: string[] = [];
  constructor(readonly tag: string = 'class') {
    super();
  }
  override async get(key: string) {
    TagProxy.journal.push(`${this.tag}.get`);
    return super.get(key);
  }
}

describe('proxies (wrap)', () => {
  it('the first proxy in wrap is the outermost: calls go first → second → backend', async () => {
    const journal: string[] = [];
    const backend = new MapBackend();
    const first = new RecordingProxy('first', journal);
    const second = new RecordingProxy('second', journal);
    const region = makeRegion().configure(backend, { wrap: [first, second] });
    expect(region.backend).toBe(first);
    expect(first.proxied).toBe(second);
    expect(second.proxied).toBe(backend);
    expect(region.actualBackend).toBe(backend);
    await region.set('k', 1);
    await region.get('k');
    expect(journal).toEqual(['first.set(k)', 'second.set(k)', 'first.get(k)', 'second.get(k)']);
  });

  it('wrap() after configure puts the new proxy outermost', async () => {
    const journal: string[] = [];
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, {
      wrap: [new RecordingProxy('inner', journal)],
    });
    region.wrap(new RecordingProxy('outer', journal));
    await region.get('k');
    expect(journal).toEqual(['outer.get(k)', 'inner.get(k)']);
    expect(region.actualBackend).toBe(backend);
  });

  it('counts calls passing through, and methods a proxy does not override still work (dogpile test_counter_proxies)', async () => {
    class GetCounter extends ProxyBackend {
      count = 0;
      override get(key: string) {
        this.count++;
        return super.get(key);
      }
    }
    class SetCounter extends ProxyBackend {
      count = 0;
      override set(key: string, value: CachedValue) {
        this.count++;
        return super.set(key, value);
      }
    }
    const gets = new GetCounter();
    const sets = new SetCounter();
    const region = makeRegion().configure(new MapBackend(), { wrap: [gets, sets] });
    for (let i = 0; i < 10; i++) await region.set(String(i), i);
    expect([gets.count, sets.count]).toEqual([0, 10]);
    for (let i = 0; i < 10; i++) expect(await region.get(String(i))).toBe(i);
    expect([gets.count, sets.count]).toEqual([10, 10]);
    for (let i = 0; i < 10; i++) {
      await region.delete(String(i));
      expect(await region.get(String(i))).toBe(NO_VALUE);
    }
  });

  it('accepts proxy classes, instantiating them', async () => {
    TagProxy.journal = [];
    const region = makeRegion().configure(new MapBackend(), { wrap: [TagProxy] });
    expect(region.backend).toBeInstanceOf(TagProxy);
    await region.get('k');
    expect(TagProxy.journal).toEqual(['class.get']);
  });

  it('a proxy instance cannot wrap two backends, and wrap() refuses non-proxies', () => {
    const proxy = new TagProxy();
    makeRegion().configure(new MapBackend(), { wrap: [proxy] });
    expect(() => makeRegion().configure(new MapBackend(), { wrap: [proxy] })).toThrow(
      ValidationError,
    );
    const region = makeRegion().configure(new MapBackend());
    expect(() => region.wrap(new MapBackend() as unknown as ProxyBackend)).toThrow(ValidationError);
    expect(() => new TagProxy().proxied).toThrow(ValidationError);
  });

  it('a region works the same through a pass-through proxy (dogpile ProxyRegionTest)', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, {
      wrap: [new ProxyBackend()],
      expirationTime: 60,
    });
    expect(await region.getOrCreate('k', () => 'v')).toBe('v');
    expect(await region.getOrCreateMulti(['k', 'j'], (...keys) => keys)).toEqual(['v', 'j']);
    await region.setMulti({ a: 1 });
    expect(await region.getMulti(['a', 'k'])).toEqual([1, 'v']);
    await region.deleteMulti(['a']);
    expect(backend.store.has('a')).toBe(false);
    expect((backend.store.get('k') as CachedValue).payload).toBe('v');
  });

  it('close() goes through the proxies to the backend', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, {
      wrap: [new ProxyBackend(), new ProxyBackend()],
    });
    await region.close();
    expect(backend.calls.close).toBe(1);
  });
});

describe('NullBackend', () => {
  it('stores nothing: every caller runs its creator, at the same time, without locking', async () => {
    const region = makeRegion().configure(new NullBackend(), { expirationTime: 60 });
    const overlap = new OverlapCounter();
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        region.getOrCreate('k', () =>
          overlap.around(async () => {
            await sleep(5);
            return i;
          }),
        ),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4]);
    expect(overlap.total).toBe(5);
    expect(overlap.max).toBe(5);
    await region.set('k', 'v');
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getMulti(['k', 'j'])).toEqual([NO_VALUE, NO_VALUE]);
    expect(await region.getOrCreateMulti(['a', 'b'], (...keys) => keys)).toEqual(['a', 'b']);
    expect(await region.keyIsLocked('k')).toBe(false);
    expect(region.lockedKeyCount).toBe(0);
  });
});
