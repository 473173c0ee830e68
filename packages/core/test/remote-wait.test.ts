import { describe, expect, it } from 'vitest';
import {
  type AcquireOptions,
  BytesBackend,
  CacheBackend,
  type CachedValue,
  type CacheMutex,
  LockTimeoutError,
  makeRegion,
  NO_VALUE,
  type NoValue,
} from '../src/index.js';
import { sleep } from './helpers.js';

/**
 * What several processes share through a server: the values and one lock per key. Every call
 * takes a round trip, and the lock records how it was used.
 */
class SharedServer {
  readonly values = new Map<string, CachedValue>();
  readonly bytes = new Map<string, Uint8Array>();
  readonly holders = new Map<string, object>();
  readonly releaseListeners = new Map<string, Set<() => void>>();
  readonly stats = { taken: 0, refused: 0, blockingAcquires: 0, waits: 0 };
  constructor(readonly roundTripMs = 1) {}

  roundTrip(): Promise<void> {
    return sleep(this.roundTripMs);
  }

  onRelease(key: string, listener: () => void): () => void {
    let set = this.releaseListeners.get(key);
    if (!set) {
      set = new Set();
      this.releaseListeners.set(key, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  release(key: string, holder: object): void {
    if (this.holders.get(key) !== holder) return;
    this.holders.delete(key);
    for (const listener of [...(this.releaseListeners.get(key) ?? [])]) listener();
  }
}

/** A distributed mutex over {@link SharedServer}, with or without `waitForRelease`. */
class SharedMutex implements CacheMutex {
  constructor(
    protected readonly server: SharedServer,
    protected readonly key: string,
  ) {}

  async acquire(wait = true, _options?: AcquireOptions): Promise<boolean> {
    if (wait) this.server.stats.blockingAcquires++;
    for (;;) {
      await this.server.roundTrip();
      if (!this.server.holders.has(this.key)) {
        this.server.holders.set(this.key, this);
        this.server.stats.taken++;
        return true;
      }
      if (!wait) {
        this.server.stats.refused++;
        return false;
      }
      await new Promise<void>((resolve) => {
        const off = this.server.onRelease(this.key, () => {
          off();
          resolve();
        });
      });
    }
  }

  async release(): Promise<void> {
    await this.server.roundTrip();
    this.server.release(this.key, this);
  }

  async locked(): Promise<boolean> {
    await this.server.roundTrip();
    return this.server.holders.has(this.key);
  }
}

class WaitingSharedMutex extends SharedMutex {
  constructor(
    server: SharedServer,
    key: string,
    private readonly timeoutMs: number,
  ) {
    super(server, key);
  }

  async waitForRelease(): Promise<boolean> {
    this.server.stats.waits++;
    await this.server.roundTrip();
    if (!this.server.holders.has(this.key)) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, this.timeoutMs);
      const off = this.server.onRelease(this.key, () => {
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }
}

/** One process's backend onto the shared server. */
class SharedBackend extends CacheBackend {
  constructor(
    private readonly server: SharedServer,
    private readonly withWaitForRelease: boolean,
    private readonly waitTimeoutMs = 5_000,
  ) {
    super();
  }
  async get(key: string): Promise<CachedValue | NoValue> {
    await this.server.roundTrip();
    return this.server.values.get(key) ?? NO_VALUE;
  }
  async set(key: string, value: CachedValue): Promise<void> {
    await this.server.roundTrip();
    this.server.values.set(key, value);
  }
  async delete(key: string): Promise<void> {
    await this.server.roundTrip();
    this.server.values.delete(key);
  }
  override getMutex(key: string): CacheMutex {
    return this.withWaitForRelease
      ? new WaitingSharedMutex(this.server, key, this.waitTimeoutMs)
      : new SharedMutex(this.server, key);
  }
}

/** The same onto a server that stores bytes, as Redis does, counting this process's reads. */
class SharedBytesBackend extends BytesBackend {
  reads = 0;
  constructor(private readonly server: SharedServer) {
    super();
  }
  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    this.reads++;
    await this.server.roundTrip();
    return this.server.bytes.get(key) ?? NO_VALUE;
  }
  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    this.reads++;
    await this.server.roundTrip();
    return keys.map((key) => this.server.bytes.get(key) ?? NO_VALUE);
  }
  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    await this.server.roundTrip();
    this.server.bytes.set(key, value);
  }
  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    await this.server.roundTrip();
    for (const [key, value] of mapping) this.server.bytes.set(key, value);
  }
  async delete(key: string): Promise<void> {
    await this.server.roundTrip();
    this.server.bytes.delete(key);
  }
  override getMutex(key: string): CacheMutex {
    return new WaitingSharedMutex(this.server, key, 5_000);
  }
}

function processes(server: SharedServer, count: number, withWaitForRelease: boolean) {
  return Array.from({ length: count }, () =>
    makeRegion().configure(new SharedBackend(server, withWaitForRelease)),
  );
}

async function stampede(server: SharedServer, withWaitForRelease: boolean) {
  const regions = processes(server, 4, withWaitForRelease);
  let runs = 0;
  const creator = async () => {
    runs++;
    await sleep(30);
    return 'value';
  };
  const results = await Promise.all(
    regions.flatMap((region) =>
      Array.from({ length: 25 }, () => region.getOrCreate('cold', creator)),
    ),
  );
  return { runs, results };
}

describe('waiting on a distributed mutex that offers waitForRelease', () => {
  it('has the other processes wait for the release and read, never taking the lock', async () => {
    const server = new SharedServer();
    const { runs, results } = await stampede(server, true);
    expect(runs).toBe(1);
    expect(results).toEqual(Array(100).fill('value'));
    // One process took the lock; each of the other three tried once, then waited for the release.
    expect(server.stats.taken).toBe(1);
    expect(server.stats.refused).toBe(3);
    expect(server.stats.waits).toBe(3);
    expect(server.stats.blockingAcquires).toBe(0);
  });

  it('has each process read a stored value once after the release, for all of its callers', async () => {
    const server = new SharedServer();
    const backends = Array.from({ length: 4 }, () => new SharedBytesBackend(server));
    const regions = backends.map((backend) => makeRegion().configure(backend));
    let runs = 0;
    const results = await Promise.all(
      regions.flatMap((region) =>
        Array.from({ length: 25 }, () =>
          region.getOrCreate('cold', async () => {
            runs++;
            await sleep(30);
            return { rows: [1, 2] };
          }),
        ),
      ),
    );
    expect(runs).toBe(1);
    for (const result of results) expect(result).toEqual({ rows: [1, 2] });
    expect(new Set(results).size).toBe(100);
    // Every process: one read its 25 callers shared before waiting. Then the creator's process
    // re-read under the lock and handed its waiters what it wrote; the others read once after
    // the release and handed that read to their waiters.
    expect(backends.map((backend) => backend.reads)).toEqual([2, 2, 2, 2]);
  });

  it('without it, each process still takes the lock in turn only to find the value', async () => {
    const server = new SharedServer();
    const { runs, results } = await stampede(server, false);
    expect(runs).toBe(1);
    expect(results).toEqual(Array(100).fill('value'));
    expect(server.stats.taken).toBe(4);
    expect(server.stats.blockingAcquires).toBe(4);
  });

  it('takes over creation when the holder released without storing a value', async () => {
    const server = new SharedServer();
    const [first, second] = processes(server, 2, true);
    let runs = 0;
    const failing = first!.getOrCreate('cold', async () => {
      runs++;
      await sleep(20);
      throw new Error('creator failed');
    });
    await sleep(5);
    const waiting = second!.getOrCreate('cold', async () => {
      runs++;
      return 'second';
    });
    await expect(failing).rejects.toThrow('creator failed');
    await expect(waiting).resolves.toBe('second');
    expect(runs).toBe(2);
    expect(server.holders.size).toBe(0);
  });

  it('gives a LockTimeoutError when the wait times out and there is still no value', async () => {
    const server = new SharedServer();
    const holder = new SharedMutex(server, 'cold');
    await holder.acquire(false);
    const region = makeRegion().configure(new SharedBackend(server, true, 30));
    await expect(region.getOrCreate('cold', async () => 'never')).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    // The region's own local lock for the key is free again: a later caller can create.
    await holder.release();
    await expect(region.getOrCreate('cold', async () => 'later')).resolves.toBe('later');
  });

  it('returns the value the holder stored even if the wait timed out', async () => {
    const server = new SharedServer();
    const holder = new SharedMutex(server, 'cold');
    await holder.acquire(false);
    const region = makeRegion().configure(new SharedBackend(server, true, 30));
    const pending = region.getOrCreate('cold', async () => 'never');
    await sleep(10);
    // The holder stores the value but, being slow, has not released yet when the wait gives up.
    const writer = makeRegion().configure(new SharedBackend(server, true));
    await writer.set('cold', 'stored');
    await expect(pending).resolves.toBe('stored');
    await holder.release();
  });
});
