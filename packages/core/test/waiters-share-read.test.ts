import { describe, expect, it } from 'vitest';
import { makeRegion, NO_VALUE, type NoValue } from '../src/index.js';
import { BytesMapBackend, MapBackend, sleep } from './helpers.js';

class CountingBytesBackend extends BytesMapBackend {
  reads = 0;
  override async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    this.reads++;
    await sleep(1);
    return this.store.get(key) ?? NO_VALUE;
  }
}

describe('callers waiting for a creator in this process', () => {
  it('share one read of the bytes once it is done, each getting its own copy', async () => {
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
    // 200 first reads, the creator's re-read under the lock, then one read for all 199 waiters.
    expect(backend.reads).toBe(202);
  });

  it('read one by one from a store of objects, whose reads may hand out copies on purpose', async () => {
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
