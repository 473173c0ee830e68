import { describe, expect, it } from 'vitest';
import { type CacheMutex, makeRegion, NO_VALUE, type NoValue } from '../src/index.js';
import { BytesMapBackend, deferred, MapBackend, sleep } from './helpers.js';

class CountingBytesBackend extends BytesMapBackend {
  reads = 0;
  override async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    this.reads++;
    // What the server had when the read reached it; the answer takes a while to come back.
    const value = this.store.get(key) ?? NO_VALUE;
    await sleep(1);
    return value;
  }
}

describe('reads of one key at the same time, with a serializer', () => {
  it('cost one backend read for a cold key, then none for the waiters, each getting its own copy', async () => {
    const backend = new CountingBytesBackend();
    const region = makeRegion().configure(backend);
    let runs = 0;
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        region.getOrCreate('cold', async () => {
          runs++;
          await sleep(20);
          return { rows: [1, 2, 3] };
        }),
      ),
    );
    expect(runs).toBe(1);
    for (const result of results) expect(result).toEqual({ rows: [1, 2, 3] });
    // No caller can change what another one got.
    expect(new Set(results).size).toBe(200);
    // One read shared by the 200 callers and the creator's re-read under the lock. The 199
    // callers that waited copy what the creator wrote rather than read it back.
    expect(backend.reads).toBe(2);
  });

  it('share a hit too, parsed once per caller', async () => {
    const backend = new CountingBytesBackend();
    const region = makeRegion().configure(backend);
    await region.set('warm', { n: 1 });
    const values = await Promise.all(Array.from({ length: 50 }, () => region.get('warm')));
    expect(backend.reads).toBe(1);
    expect(new Set(values).size).toBe(50);
    for (const value of values) expect(value).toEqual({ n: 1 });
  });

  it('never let a read after a write join a read from before it', async () => {
    const backend = new CountingBytesBackend();
    const region = makeRegion().configure(backend);
    await region.set('k', 'old');
    const before = region.get('k');
    await region.set('k', 'new');
    await expect(region.get('k')).resolves.toBe('new');
    await expect(before).resolves.toBe('old');
    const beforeDelete = region.get('k');
    await region.delete('k');
    await expect(region.get('k')).resolves.toBe(NO_VALUE);
    await expect(beforeDelete).resolves.toBe('new');
    await region.setMulti({ a: 1, b: 2 });
    const beforeMulti = region.get('a');
    await region.setMulti({ a: 10 });
    await expect(region.get('a')).resolves.toBe(10);
    await expect(beforeMulti).resolves.toBe(1);
    const beforeDeleteMulti = region.get('a');
    await region.deleteMulti(['a']);
    await expect(region.get('a')).resolves.toBe(NO_VALUE);
    await expect(beforeDeleteMulti).resolves.toBe(10);
  });

  it('do not happen for a store of objects, whose reads may hand out copies on purpose', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        region.getOrCreate('cold', async () => {
          await sleep(10);
          return 'value';
        }),
      ),
    );
    expect(backend.calls.get).toBe(20 + 1 + 19);
  });

  it('each see a failed shared read as their own error', async () => {
    const backend = new CountingBytesBackend();
    const region = makeRegion().configure(backend);
    backend.getSerialized = async () => {
      await sleep(1);
      throw new Error('server went away');
    };
    const readers = Array.from({ length: 5 }, () => region.getOrCreate('k', async () => 'x'));
    for (const reader of readers) await expect(reader).rejects.toThrow('server went away');
  });

  it('hand the waiters nothing from before a delete through the region', async () => {
    const releasing = deferred();
    class SlowReleaseBackend extends CountingBytesBackend {
      // A distributed mutex whose release takes a while: the waiters wake only after it.
      override getMutex(): CacheMutex {
        return {
          acquire: async () => true,
          release: () => releasing.promise,
          locked: async () => false,
        };
      }
    }
    const region = makeRegion().configure(new SlowReleaseBackend());
    const creators: string[] = [];
    const creator = (name: string) => async () => {
      creators.push(name);
      await sleep(5);
      return name;
    };
    const first = region.getOrCreate('k', creator('first'));
    const waiters = [region.getOrCreate('k', creator('a')), region.getOrCreate('k', creator('b'))];
    const backend = region.backend as SlowReleaseBackend;
    while (!backend.store.has('k')) await sleep(1);
    // The first creator wrote its value and is releasing the lock; the waiters still wait.
    await region.delete('k');
    releasing.resolve();
    await expect(first).resolves.toBe('first');
    const values = await Promise.all(waiters);
    // They found the key gone and one of them created it again, instead of taking the value
    // written before the delete.
    expect(creators).toHaveLength(2);
    expect(values).toEqual([creators[1], creators[1]]);
  });

  it('report a value they cannot read once per backend read, not once per caller', async () => {
    const backend = new CountingBytesBackend();
    const region = makeRegion().configure(backend);
    backend.store.set('k', new TextEncoder().encode('{"ct":1,"v":2}|not json'));
    const reported: unknown[] = [];
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const onError = (event: unknown) => reported.push(event);
    subscribe('dogpile:error', onError);
    try {
      const values = await Promise.all(
        Array.from({ length: 10 }, () => region.getOrCreate('k', async () => 'fresh')),
      );
      expect(values).toEqual(Array(10).fill('fresh'));
    } finally {
      unsubscribe('dogpile:error', onError);
    }
    // The read the ten callers shared and the creator's re-read under the lock.
    expect(backend.reads).toBe(2);
    expect(reported).toHaveLength(2);
    for (const event of reported)
      expect(event).toMatchObject({ operation: 'deserialize', key: 'k' });
  });
});
