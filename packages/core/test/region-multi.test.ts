import { describe, expect, it } from 'vitest';
import {
  type CachedValue,
  makeRegion,
  NO_VALUE,
  ProxyBackend,
  ValidationError,
} from '../src/index.js';
import { deferred, ManualClock, MapBackend, settle } from './helpers.js';

class CountingProxy extends ProxyBackend {
  gets = 0;
  getMultis = 0;
  setMultis = 0;
  override get(key: string) {
    this.gets++;
    return super.get(key);
  }
  override getMulti(keys: readonly string[]) {
    this.getMultis++;
    return super.getMulti(keys);
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>) {
    this.setMultis++;
    return super.setMulti(mapping);
  }
}

describe('getOrCreateMulti', () => {
  function multiSetup(expirationTime?: number) {
    const proxy = new CountingProxy();
    const clock = new ManualClock();
    const backend = new MapBackend();
    const region = makeRegion({ clock }).configure(backend, {
      wrap: [proxy],
      ...(expirationTime === undefined ? {} : { expirationTime }),
    });
    return { proxy, clock, backend, region };
  }

  it('creates the values (dogpile test_multi_creator)', async () => {
    const { region } = multiSetup();
    const creator = (...keys: string[]) => keys.map((key) => `some value ${key}`);
    expect(await region.getOrCreateMulti(['k3', 'k2', 'k5'], creator)).toEqual([
      'some value k3',
      'some value k2',
      'some value k5',
    ]);
  });

  it('reads with one backend getMulti and calls the creator once with just the missing keys, sorted', async () => {
    const { region, proxy } = multiSetup();
    await region.set('k2', 'cached k2');
    const calls: string[][] = [];
    const result = await region.getOrCreateMulti(['k5', 'k2', 'k3'], (...keys) => {
      calls.push(keys);
      return keys.map((key) => `new ${key}`);
    });
    expect(result).toEqual(['new k5', 'cached k2', 'new k3']);
    expect(calls).toEqual([['k3', 'k5']]);
    expect(proxy.getMultis).toBe(1);
    expect(proxy.gets).toBe(0);
    expect(proxy.setMultis).toBe(1);
    expect(await region.get('k5')).toBe('new k5');
  });

  it('does not call the creator when every value is fresh', async () => {
    const { region } = multiSetup();
    await region.setMulti({ a: 1, b: 2 });
    let calls = 0;
    expect(
      await region.getOrCreateMulti(['b', 'a'], () => {
        calls++;
        return [];
      }),
    ).toEqual([2, 1]);
    expect(calls).toBe(0);
  });

  it('creates a duplicated key once and returns it at every position', async () => {
    const { region } = multiSetup();
    const calls: string[][] = [];
    const result = await region.getOrCreateMulti(['a', 'b', 'a'], (...keys) => {
      calls.push(keys);
      return keys.map((key) => key.toUpperCase());
    });
    expect(result).toEqual(['A', 'B', 'A']);
    expect(calls).toEqual([['a', 'b']]);
  });

  it('regenerates expired keys (dogpile test_expire_multi)', async () => {
    const { region, clock } = multiSetup(1);
    let n = 0;
    const creator = (...keys: string[]) => keys.map((key) => `some value ${key} ${++n}`);
    expect(await region.getOrCreateMulti(['k3', 'k2', 'k5'], creator)).toEqual([
      'some value k3 2',
      'some value k2 1',
      'some value k5 3',
    ]);
    clock.advance(2000);
    expect(await region.get('k2')).toBe(NO_VALUE);
    expect(await region.get('k2', { ignoreExpiration: true })).toBe('some value k2 1');
    expect(await region.getOrCreateMulti(['k3', 'k2'], creator)).toEqual([
      'some value k3 5',
      'some value k2 4',
    ]);
    expect(await region.get('k2')).toBe('some value k2 4');
  });

  it('returns but does not cache values that shouldCacheFn rejects (dogpile test_should_cache_fn_multi)', async () => {
    const { region, backend, clock } = multiSetup();
    const values = [1, 2, 3];
    const creator = (...keys: string[]) => {
      const v = values.shift()!;
      return keys.map(() => v);
    };
    const shouldCacheFn = (v: number) => v === 1 || v === 3;
    const cached = () => (backend.store.get('1') as CachedValue).payload;
    expect(await region.getOrCreateMulti(['1', '2'], creator, { shouldCacheFn })).toEqual([1, 1]);
    expect(cached()).toBe(1);
    clock.advance(1);
    await region.invalidate();
    clock.advance(1);
    expect(await region.getOrCreateMulti(['1', '2'], creator, { shouldCacheFn })).toEqual([2, 2]);
    expect(cached()).toBe(1);
    clock.advance(1);
    await region.invalidate();
    clock.advance(1);
    expect(await region.getOrCreateMulti(['1', '2'], creator, { shouldCacheFn })).toEqual([3, 3]);
    expect(cached()).toBe(3);
  });

  it('a creator returning the wrong number of values is a ValidationError, and the locks are released', async () => {
    const { region } = multiSetup();
    await expect(region.getOrCreateMulti(['a', 'b'], () => ['only one'])).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(region.getOrCreateMulti(['a', 'b'], () => 'nope' as never)).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(region.lockedKeyCount).toBe(0);
    expect(await region.get('a')).toBe(NO_VALUE);
    expect(await region.getOrCreateMulti(['a', 'b'], (...keys) => keys)).toEqual(['a', 'b']);
  });

  it('a throwing creator releases every lock it took', async () => {
    const { region } = multiSetup();
    await expect(
      region.getOrCreateMulti(['a', 'b', 'c'], () => {
        throw new Error('nope');
      }),
    ).rejects.toThrow('nope');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('holds the locks of the keys it creates while its creator runs', async () => {
    const { region } = multiSetup();
    await region.set('b', 'cached');
    const gate = deferred();
    const running = region.getOrCreateMulti(['a', 'b', 'c'], async (...keys) => {
      await gate.promise;
      return keys;
    });
    await settle();
    expect(await region.keyIsLocked('a')).toBe(true);
    expect(await region.keyIsLocked('b')).toBe(false);
    expect(await region.keyIsLocked('c')).toBe(true);
    gate.resolve();
    expect(await running).toEqual(['a', 'cached', 'c']);
    expect(region.lockedKeyCount).toBe(0);
  });
});
