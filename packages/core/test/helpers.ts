import {
  type AcquireOptions,
  BytesBackend,
  CacheBackend,
  type CachedValue,
  type CacheMutex,
  NO_VALUE,
  type NoValue,
  ProxyBackend,
} from '../src/index.js';

// Doubles that need nothing from core live in the shared test kit; the ones below build on core's
// own classes from source, so they stay here (a copy of core from dist would be another class).
export {
  type Deferred,
  deferred,
  gatedCreator,
  ManualClock,
  OverlapCounter,
  settle,
  sleep,
} from '@dogpile/test-kit';

import { sleep } from '@dogpile/test-kit';

/** A CacheBackend over a Map of CachedValue objects, counting calls. */
export class MapBackend extends CacheBackend {
  readonly store = new Map<string, unknown>();
  readonly calls = {
    get: 0,
    getMulti: 0,
    set: 0,
    setMulti: 0,
    delete: 0,
    deleteMulti: 0,
    close: 0,
  };

  async get(key: string): Promise<CachedValue | NoValue> {
    this.calls.get++;
    return (this.store.get(key) as CachedValue | undefined) ?? NO_VALUE;
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    this.calls.getMulti++;
    return keys.map((key) => (this.store.get(key) as CachedValue | undefined) ?? NO_VALUE);
  }
  async set(key: string, value: CachedValue): Promise<void> {
    this.calls.set++;
    this.store.set(key, value);
  }
  override async setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    this.calls.setMulti++;
    for (const [key, value] of mapping) this.store.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.calls.delete++;
    this.store.delete(key);
  }
  override async deleteMulti(keys: readonly string[]): Promise<void> {
    this.calls.deleteMulti++;
    for (const key of keys) this.store.delete(key);
  }
  clear(): void {
    this.store.clear();
  }
  override async close(): Promise<void> {
    this.calls.close++;
  }
}

/** A BytesBackend over a Map of Uint8Array: what a Redis or Memcached backend stores. */
export class BytesMapBackend extends BytesBackend {
  readonly store = new Map<string, Uint8Array>();
  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.store.get(key) ?? NO_VALUE;
  }
  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return keys.map((key) => this.store.get(key) ?? NO_VALUE);
  }
  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    this.store.set(key, value);
  }
  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [key, value] of mapping) this.store.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.store.delete(key);
  }
}

/**
 * A simple in-memory mutex with FIFO blocking acquire, independent of the project's KeyedLocks,
 * recording how it is used.
 */
export class TestMutex implements CacheMutex {
  held = false;
  readonly log: string[] = [];
  #waiters: Array<() => void> = [];

  async acquire(wait = true, _options?: AcquireOptions): Promise<boolean> {
    this.log.push(wait ? 'acquire(wait)' : 'acquire(nowait)');
    if (!this.held) {
      this.held = true;
      return true;
    }
    if (!wait) return false;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return true;
  }
  async release(): Promise<void> {
    this.log.push('release');
    if (!this.held) throw new Error('TestMutex released while not held');
    const next = this.#waiters.shift();
    if (next) next();
    else this.held = false;
  }
  async locked(): Promise<boolean> {
    return this.held;
  }
}

/**
 * A "distributed" mutex per key, shared by every CountingMutex of one CountingMutexBackend. Each
 * acquire attempt takes a little time (a network round trip), and the backend records how many
 * attempts on a key are in flight at once.
 */
export class CountingMutex implements CacheMutex {
  constructor(
    private readonly owner: CountingMutexBackend,
    private readonly key: string,
  ) {}

  async acquire(wait = true): Promise<boolean> {
    const owner = this.owner;
    const inFlight = (owner.inFlight.get(this.key) ?? 0) + 1;
    owner.inFlight.set(this.key, inFlight);
    owner.maxInFlight = Math.max(owner.maxInFlight, inFlight);
    owner.acquireAttempts++;
    try {
      for (;;) {
        await sleep(owner.roundTripMs);
        if (!owner.remoteHeld.has(this.key)) {
          owner.remoteHeld.add(this.key);
          return true;
        }
        if (!wait) return false;
      }
    } finally {
      owner.inFlight.set(this.key, (owner.inFlight.get(this.key) ?? 1) - 1);
    }
  }
  async release(): Promise<void> {
    this.owner.releases++;
    this.owner.remoteHeld.delete(this.key);
  }
  async locked(): Promise<boolean> {
    return this.owner.remoteHeld.has(this.key);
  }
}

export class CountingMutexBackend extends MapBackend {
  readonly remoteHeld = new Set<string>();
  readonly inFlight = new Map<string, number>();
  maxInFlight = 0;
  acquireAttempts = 0;
  releases = 0;
  roundTripMs = 1;
  override getMutex(key: string): CacheMutex {
    return new CountingMutex(this, key);
  }
}

/** A proxy recording every call that passes through it, for ordering and counting. */
export class RecordingProxy extends ProxyBackend {
  constructor(
    readonly label: string,
    readonly journal: string[] = [],
  ) {
    super();
  }
  override get(key: string) {
    this.journal.push(`${this.label}.get(${key})`);
    return super.get(key);
  }
  override set(key: string, value: CachedValue) {
    this.journal.push(`${this.label}.set(${key})`);
    return super.set(key, value);
  }
  override getMulti(keys: readonly string[]) {
    this.journal.push(`${this.label}.getMulti(${keys.join(',')})`);
    return super.getMulti(keys);
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>) {
    this.journal.push(`${this.label}.setMulti(${[...mapping.keys()].join(',')})`);
    return super.setMulti(mapping);
  }
  override delete(key: string) {
    this.journal.push(`${this.label}.delete(${key})`);
    return super.delete(key);
  }
}
