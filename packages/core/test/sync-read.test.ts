import { describe, expect, it } from 'vitest';
import { syncReader } from '../src/backend/backend.js';
import {
  CacheBackend,
  type CachedValue,
  makeRegion,
  NO_VALUE,
  type NoValue,
  ValidationError,
} from '../src/index.js';
import { deferred, settle } from './helpers.js';

/** A store that answers at once, counting how each read came. */
class SyncMap extends CacheBackend {
  readonly map = new Map<string, CachedValue>();
  asyncReads = 0;
  syncReads = 0;
  override readNow(key: string): CachedValue | NoValue {
    this.syncReads++;
    return this.map.get(key) ?? NO_VALUE;
  }
  async get(key: string): Promise<CachedValue | NoValue> {
    this.asyncReads++;
    return this.map.get(key) ?? NO_VALUE;
  }
  async set(key: string, value: CachedValue): Promise<void> {
    this.map.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
}

/** Overrides `get` alone, as a counting or failing test double would. */
class FailingGets extends SyncMap {
  override async get(): Promise<CachedValue | NoValue> {
    throw new Error('get is overridden');
  }
}

describe('readNow: a store that answers at once', () => {
  it('serves a hit of getOrCreate without get()', async () => {
    const backend = new SyncMap();
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    await region.getOrCreate('k', () => 'v');
    const before = backend.asyncReads;
    expect(await region.getOrCreate('k', () => 'other')).toBe('v');
    expect(backend.asyncReads).toBe(before);
    expect(backend.syncReads).toBeGreaterThan(0);
  });

  it('is not used when a subclass overrides get() alone, nor with the region serializing', async () => {
    expect(syncReader(new SyncMap())).toBeTypeOf('function');
    expect(syncReader(new FailingGets())).toBeUndefined();
    const failing = makeRegion().configure(new FailingGets(), { expirationTime: 60 });
    await expect(failing.getOrCreate('k', () => 'v')).rejects.toThrow('get is overridden');
    const backend = new SyncMap();
    const bytes = makeRegion({
      serializer: {
        serialize: (v) => Buffer.from(JSON.stringify(v)),
        deserialize: (b) => JSON.parse(Buffer.from(b).toString()),
      },
    }).configure(backend, { expirationTime: 60 });
    await bytes.getOrCreate('k', () => 'v');
    expect(await bytes.getOrCreate('k', () => 'other')).toBe('v');
    expect(backend.syncReads).toBe(0);
  });

  it('starts the creator of a miss within the call, before the next caller runs', async () => {
    const region = makeRegion().configure(new SyncMap(), { expirationTime: 60 });
    const order: string[] = [];
    const gate = deferred<string>();
    const creator = () => {
      order.push('creator');
      return gate.promise;
    };
    const first = region.getOrCreate('k', creator);
    order.push('second call');
    const others = Array.from({ length: 100 }, () => region.getOrCreate('k', creator));
    expect(order).toEqual(['creator', 'second call']);
    gate.resolve('v');
    expect(await first).toBe('v');
    expect(new Set(await Promise.all(others))).toEqual(new Set(['v']));
    expect(region.lockedKeyCount).toBe(0);
  });

  it('a malformed key is refused before anything is locked or created, and never finds another key', async () => {
    const backend = new SyncMap();
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    await region.getOrCreate('x\uFFFD', () => 'replacement');
    let runs = 0;
    const creator = () => {
      runs++;
      return 'made';
    };
    for (const bad of ['x\uD800', 'x\uDBFF', '\uDC00']) {
      await expect(region.getOrCreate(bad, creator)).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(region.getOrCreate(7 as never, creator)).rejects.toBeInstanceOf(ValidationError);
    expect(runs).toBe(0);
    expect([...backend.map.keys()]).toEqual(['x\uFFFD']);
    expect(region.lockedKeyCount).toBe(0);
    // With a key mangler (which might hash a lone surrogate as U+FFFD), the whole key is checked
    // before the mangler sees it.
    const mangled: string[] = [];
    const hashed = makeRegion({
      keyMangler: (key) => {
        mangled.push(key);
        return key.toWellFormed();
      },
    }).configure(new SyncMap(), { expirationTime: 60 });
    await hashed.getOrCreate('x\uFFFD', () => 'replacement');
    await expect(hashed.getOrCreate('x\uD800', creator)).rejects.toBeInstanceOf(ValidationError);
    expect(mangled).toEqual(['x\uFFFD']);
    expect(runs).toBe(0);
  });

  it('each caller waiting for a creation reads for itself: a read that throws fails that caller alone', async () => {
    /** The third read after `armed` throws. */
    class ThirdReadFails extends SyncMap {
      armed = false;
      #reads = 0;
      override readNow(key: string): CachedValue | NoValue {
        if (this.armed && ++this.#reads === 3) throw new Error('third read failed');
        return super.readNow(key);
      }
      override async get(key: string): Promise<CachedValue | NoValue> {
        return this.readNow(key);
      }
    }
    const backend = new ThirdReadFails();
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    const gate = deferred<string>();
    const first = region.getOrCreate('k', () => gate.promise);
    const waiters = Array.from({ length: 5 }, () => region.getOrCreate('k', () => 'again'));
    await settle();
    backend.armed = true;
    gate.resolve('v');
    expect(await first).toBe('v');
    const results = await Promise.allSettled(waiters);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => r.value)).toEqual([
      'v',
      'v',
      'v',
      'v',
    ]);
    expect(region.lockedKeyCount).toBe(0);
  });
});
