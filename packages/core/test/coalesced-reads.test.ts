import { describe, expect, it } from 'vitest';
import { makeRegion, NO_VALUE, type NoValue } from '../src/index.js';
import { BytesMapBackend, MapBackend, sleep } from './helpers.js';

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
  it('cost one backend read for a cold key, then one for all the waiters, each getting its own copy', async () => {
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
    // One read shared by the 200 callers, the creator's re-read under the lock, then one read
    // shared by the 199 callers that waited for it.
    expect(backend.reads).toBe(3);
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
    const holder = region.getOrCreate('cold', async () => {
      await sleep(10);
      backend.getSerialized = async () => {
        throw new Error('server went away');
      };
      return 'value';
    });
    const waiters = Array.from({ length: 5 }, () => region.getOrCreate('cold', async () => 'x'));
    await expect(holder).resolves.toBe('value');
    for (const waiter of waiters) await expect(waiter).rejects.toThrow('server went away');
  });
});
