import { describe, expect, it } from 'vitest';
import { syncReader } from '../src/backend/backend.js';
import {
  CacheBackend,
  type CachedValue,
  makeRegion,
  NO_VALUE,
  type NoValue,
} from '../src/index.js';

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
});
