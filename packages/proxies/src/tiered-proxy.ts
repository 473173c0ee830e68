import { randomUUID } from 'node:crypto';
import {
  type AcquireOptions,
  type CacheBackend,
  type CachedValue,
  type CacheMutex,
  deserializeCachedValue,
  NO_VALUE,
  type NoValue,
  NullMutex,
  reportError,
  serializeCachedValue,
  ValidationError,
  validateKey,
  type WaitForReleaseOptions,
} from '@dogpile/core';
import { coarseNow, refreshNow, TICK_MS, useCoarseClock } from './coarse-clock.js';
import type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from './invalidation-bus.js';
import { L1Cache } from './l1-cache.js';
import { checkOptions, durationMs, integerOption } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/**
 * Options of {@link TieredProxy}.
 *
 * @example
 * new TieredProxy({ l1MaxEntries: 10_000, l1MaxAge: '5s', bus: new RedisBus({ client: redis.client }) })
 */
export interface TieredProxyOptions {
  /** The most entries L1 keeps; past it the least recently used is evicted. Default: `10000`. */
  l1MaxEntries?: number;
  /**
   * Seconds or a duration string: the longest an entry is served from L1 before it is read from
   * L2 again. It bounds how stale a process can be when bus messages are lost. Default: `10`.
   */
  l1MaxAge?: number | string;
  /**
   * Tells the L1s of other processes to drop a key when it changes here. Without one, other
   * processes see a change within `l1MaxAge`. Default: none.
   */
  bus?: InvalidationBus;
}

const KNOWN = ['l1MaxEntries', 'l1MaxAge', 'bus'] as const;

/**
 * Two tiers: an in-process L1 (a `Map` bounded by `l1MaxEntries`, least recently used out first) in front of any L2 (the wrapped
 * backend). Reads are served from L1 when it has the key, else from L2, filling L1; writes and
 * deletes go to L2, then L1, then the bus, which tells other processes' L1 to drop the key.
 *
 * Staleness stays bounded when bus messages are lost: an L1 entry is served for at most
 * `l1MaxAge`; while the bus is disconnected L1 is bypassed; when it reconnects L1 is flushed. A
 * read of L2 that raced with a change (a write here, or a bus message) does not fill L1.
 *
 * The dogpile lock is L2's mutex: taking it (or seeing it released) drops the key from this L1,
 * so the region's re-read under the lock sees what other processes wrote to L2, and one creator
 * runs across processes.
 *
 * Over a byte store L1 holds the stored bytes and each caller still gets its own decoded copy;
 * over a store of objects it holds the same objects the region stores.
 *
 * @example
 * const redis = new RedisBackend({ url, distributedLock: true });
 * region.configure(redis, {
 *   wrap: [new TieredProxy({ l1MaxAge: '5s', bus: new RedisBus({ client: redis.client }) })],
 * });
 */
export class TieredProxy extends PassThroughProxy {
  /** This proxy's id on the bus. */
  readonly id = randomUUID();
  readonly l1MaxEntries: number;
  readonly l1MaxAgeMs: number;
  readonly bus: InvalidationBus | undefined;
  readonly #l1: L1Cache<CachedValue | Uint8Array>;
  /** Bumped by every change that may make a read of L2 in flight outdated. */
  #epoch = 0;
  /** Whether L1 may be used: no bus, or a bus that is connected. */
  #l1Usable: boolean;
  #bytes = false;
  #unsubscribe: Promise<(() => Promise<void>) | undefined> | undefined;
  #publishFailing = false;
  #closed = false;
  /** Stops this proxy's use of the coarse clock; undefined while it reads the real one. */
  #releaseClock: (() => void) | undefined;
  /** How long after a fill (by the coarse clock) an entry is still served. */
  #serveForMs: number;

  constructor(options: TieredProxyOptions = {}) {
    super();
    const o = checkOptions('TieredProxy', options, KNOWN);
    this.l1MaxEntries = integerOption('TieredProxy', 'l1MaxEntries', o.l1MaxEntries, 1, 10_000);
    this.l1MaxAgeMs = durationMs('TieredProxy', 'l1MaxAge', o.l1MaxAge, 10_000);
    const bus = o.bus as InvalidationBus | undefined;
    if (
      bus !== undefined &&
      (bus === null || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function')
    ) {
      throw new ValidationError(
        'TieredProxy bus must be an InvalidationBus (publish and subscribe), such as RedisBus from @dogpile/redis.',
      );
    }
    this.bus = bus;
    this.#l1 = new L1Cache(this.l1MaxEntries);
    this.#l1Usable = bus === undefined;
    // The coarse clock lags by up to a tick: serve a tick less, so no entry is served past
    // l1MaxAge. Ages too short for that read the real clock.
    this.#serveForMs = this.l1MaxAgeMs > 4 * TICK_MS ? this.l1MaxAgeMs - TICK_MS : this.l1MaxAgeMs;
  }

  #now(): number {
    return this.#releaseClock === undefined ? performance.now() : coarseNow();
  }

  override wrap(backend: CacheBackend): this {
    super.wrap(backend);
    this.#bytes = backend.serializer !== undefined;
    if (this.l1MaxAgeMs > 4 * TICK_MS) this.#releaseClock = useCoarseClock();
    if (this.bus !== undefined) this.#unsubscribe = this.#subscribe(this.bus);
    return this;
  }

  async #subscribe(bus: InvalidationBus): Promise<(() => Promise<void>) | undefined> {
    const listener: InvalidationListener = {
      onMessage: (message) => this.#onMessage(message),
      onDisconnect: () => {
        this.#l1Usable = false;
        this.#flush();
      },
      onReconnect: () => {
        this.#flush();
        this.#l1Usable = !this.#closed;
      },
    };
    try {
      const stop = await bus.subscribe(listener);
      listener.onReconnect();
      return stop;
    } catch (error) {
      // L1 stays bypassed: every read goes to L2, which is correct, only slower.
      reportError({ operation: 'tieredSubscribe', error });
      return undefined;
    }
  }

  #onMessage(message: InvalidationMessage): void {
    if (message === null || typeof message !== 'object' || message.origin === this.id) return;
    this.#epoch++;
    if (message.all === true) {
      this.#l1.clear();
      return;
    }
    if (Array.isArray(message.keys)) {
      for (const key of message.keys) if (typeof key === 'string') this.#drop(key);
    }
  }

  #flush(): void {
    this.#epoch++;
    this.#l1.clear();
  }

  #drop(key: string): void {
    this.#l1.delete(key);
  }

  /**
   * Resolves once the bus is subscribed (at once without a bus); L1 is used only from then on.
   * Never rejects: a bus that cannot subscribe leaves L1 bypassed, reported.
   */
  get ready(): Promise<void> {
    return this.#unsubscribe === undefined ? Promise.resolve() : this.#unsubscribe.then(() => {});
  }

  /** The number of entries in L1 now (expired ones included until read or evicted). */
  get l1Size(): number {
    return this.#l1.size;
  }

  /** Drops every L1 entry of this process (L2 keeps its values). */
  clearL1(): void {
    this.#flush();
  }

  /** A fresh L1 entry for `key`, or undefined. */
  #fromL1(key: string): CachedValue | Uint8Array | undefined {
    if (!this.#l1Usable) return undefined;
    const entry = this.#l1.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > this.#now()) return entry.value;
    this.#drop(key);
    return undefined;
  }

  #fill(key: string, value: CachedValue | Uint8Array | NoValue, epoch: number): void {
    if (value === NO_VALUE || epoch !== this.#epoch || !this.#l1Usable) return;
    // Fills follow L2 I/O, so the real clock costs nothing there; it also corrects the coarse one.
    this.#l1.set(key, value as CachedValue | Uint8Array, refreshNow() + this.#serveForMs);
  }

  /**
   * Reads `key` in the region's native form (bytes over a byte store, else objects). An L1 hit
   * resolves without an async function or an await: it is the path this proxy exists for.
   */
  #read(key: string): Promise<CachedValue | Uint8Array | NoValue> {
    // No key check on a hit: only a checked key can be in L1 (writes check theirs, and fills
    // follow L2 reads, which check). A miss is checked before L2 is asked.
    const hit = this.#fromL1(key);
    if (hit !== undefined) return Promise.resolve(hit);
    try {
      validateKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#readL2(key);
  }

  async #readL2(key: string): Promise<CachedValue | Uint8Array | NoValue> {
    const epoch = this.#epoch;
    const value = this.#bytes ? await this.proxied.getSerialized(key) : await this.proxied.get(key);
    this.#fill(key, value, epoch);
    return value;
  }

  async #readMulti(keys: readonly string[]): Promise<Array<CachedValue | Uint8Array | NoValue>> {
    const out: Array<CachedValue | Uint8Array | NoValue> = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const hit = this.#fromL1(validateKey(keys[i]!));
      if (hit === undefined) missing.push(i);
      else out[i] = hit;
    }
    if (missing.length === 0) return out;
    const epoch = this.#epoch;
    const wanted = missing.map((i) => keys[i]!);
    const values = this.#bytes
      ? await this.proxied.getSerializedMulti(wanted)
      : await this.proxied.getMulti(wanted);
    for (let j = 0; j < missing.length; j++) {
      out[missing[j]!] = values[j]!;
      this.#fill(wanted[j]!, values[j]!, epoch);
    }
    return out;
  }

  /** Writes to L2, then L1, then tells the bus. */
  async #write(entries: ReadonlyMap<string, CachedValue | Uint8Array>): Promise<void> {
    for (const key of entries.keys()) validateKey(key);
    this.#epoch++;
    for (const key of entries.keys()) this.#drop(key);
    try {
      if (this.#bytes) {
        const bytes = entries as ReadonlyMap<string, Uint8Array>;
        if (bytes.size === 1) {
          const [key, value] = bytes.entries().next().value!;
          await this.proxied.setSerialized(key, value);
        } else {
          await this.proxied.setSerializedMulti(bytes);
        }
      } else {
        const values = entries as ReadonlyMap<string, CachedValue>;
        if (values.size === 1) {
          const [key, value] = values.entries().next().value!;
          await this.proxied.set(key, value);
        } else {
          await this.proxied.setMulti(values);
        }
      }
    } finally {
      this.#epoch++;
    }
    const epoch = this.#epoch;
    for (const [key, value] of entries) this.#fill(key, value, epoch);
    await this.#publish([...entries.keys()]);
  }

  async #delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    this.#epoch++;
    for (const key of keys) this.#drop(key);
    try {
      if (keys.length === 1) await this.proxied.delete(keys[0]!);
      else await this.proxied.deleteMulti(keys);
    } finally {
      this.#epoch++;
      for (const key of keys) this.#drop(key);
    }
    await this.#publish(keys);
  }

  async #publish(keys: readonly string[]): Promise<void> {
    const bus = this.bus;
    if (bus === undefined || keys.length === 0) return;
    try {
      await bus.publish({ origin: this.id, keys: [...keys] });
      this.#publishFailing = false;
    } catch (error) {
      // The write itself is done; other processes catch up within l1MaxAge. Reported once per outage.
      if (!this.#publishFailing) {
        this.#publishFailing = true;
        reportError({ operation: 'tieredPublish', key: keys[0], error });
      }
    }
  }

  override get(key: string): Promise<CachedValue | NoValue> {
    if (!this.#bytes) return this.#read(key) as Promise<CachedValue | NoValue>;
    return this.#read(key).then((value) =>
      value === NO_VALUE
        ? NO_VALUE
        : deserializeCachedValue(value as Uint8Array, this.proxied.serializer!),
    );
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const values = await this.#readMulti(keys);
    if (!this.#bytes) return values as Array<CachedValue | NoValue>;
    const serializer = this.proxied.serializer!;
    return values.map((value) =>
      value === NO_VALUE ? NO_VALUE : deserializeCachedValue(value as Uint8Array, serializer),
    );
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    if (!this.#bytes) return this.proxied.getSerialized(key);
    return this.#read(key) as Promise<Uint8Array | NoValue>;
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    if (!this.#bytes) return this.proxied.getSerializedMulti(keys);
    return this.#readMulti(keys) as Promise<Array<Uint8Array | NoValue>>;
  }
  override set(key: string, value: CachedValue): Promise<void> {
    const native = this.#bytes ? serializeCachedValue(value, this.proxied.serializer!) : value;
    return this.#write(new Map([[key, native]]));
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    if (!this.#bytes) return this.#write(mapping);
    const serializer = this.proxied.serializer!;
    const bytes = new Map<string, Uint8Array>();
    for (const [key, value] of mapping) bytes.set(key, serializeCachedValue(value, serializer));
    return this.#write(bytes);
  }
  override async setSerialized(key: string, value: Uint8Array): Promise<void> {
    if (this.#bytes) return this.#write(new Map([[key, value]]));
    // A store of objects written with bytes: pass through, and make every L1 forget the key.
    await this.#delete([key]);
    return this.proxied.setSerialized(key, value);
  }
  override async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    if (this.#bytes) return this.#write(mapping);
    await this.#delete([...mapping.keys()]);
    return this.proxied.setSerializedMulti(mapping);
  }
  override delete(key: string): Promise<void> {
    return this.#delete([key]);
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return keys.length === 0 ? Promise.resolve() : this.#delete(keys);
  }

  override getMutex(key: string): CacheMutex | null {
    const inner = this.proxied.getMutex(key);
    if (inner === null || inner instanceof NullMutex) return inner;
    return new TieredMutex(inner, {
      held: () => this.#l1.get(key)?.value,
      readL2: () => (this.#bytes ? this.proxied.getSerialized(key) : this.proxied.get(key)),
      forget: () => {
        this.#epoch++;
        this.#drop(key);
      },
    });
  }

  override async close(): Promise<void> {
    this.#closed = true;
    this.#releaseClock?.();
    this.#l1Usable = false;
    this.#flush();
    const stop = await this.#unsubscribe;
    this.#unsubscribe = undefined;
    try {
      await stop?.();
    } finally {
      await this.proxied.close();
    }
  }
}

/** What {@link TieredMutex} needs of its proxy for one key. */
interface TierAccess {
  /** The value L1 holds for the key now (served or not), or undefined. */
  held(): CachedValue | Uint8Array | undefined;
  /** The key's value in L2, in the region's native form. */
  readL2(): Promise<CachedValue | Uint8Array | NoValue>;
  /** Drops the key from L1 (and makes fills in flight skip it). */
  forget(): void;
}

/** Whether two values in the region's native form are the same stored value. */
function sameValue(a: CachedValue | Uint8Array, b: CachedValue | Uint8Array | NoValue): boolean {
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
  }
  if (b === NO_VALUE || b instanceof Uint8Array) return false;
  const other = b as CachedValue;
  return a === other || (a.metadata.ct === other.metadata.ct && a.metadata.v === other.metadata.v);
}

/**
 * L2's mutex, so one creator runs across processes. Taking it, or seeing it released, drops the
 * key from L1, so the region's re-read under the lock sees what other processes wrote to L2.
 *
 * dogpile's Lock does not re-read after a non-blocking acquire (the stale-value path): it
 * creates. So when that acquire succeeds while L1 held a value and L2 now holds a different one,
 * another process has just regenerated it: the lock is given back and the acquire reports it
 * held, so this caller is served the stale value once (as when another process holds the lock)
 * and the next read finds the new one in L2, instead of creating it a second time.
 */
class TieredMutex implements CacheMutex {
  declare waitForRelease?: (options?: WaitForReleaseOptions) => Promise<boolean>;

  constructor(
    private readonly inner: CacheMutex,
    private readonly tier: TierAccess,
  ) {
    if (typeof inner.waitForRelease === 'function') {
      this.waitForRelease = async (options) => {
        const released = await inner.waitForRelease!(options);
        this.tier.forget();
        return released;
      };
    }
  }

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    const held = wait ? undefined : this.tier.held();
    const taken = await this.inner.acquire(wait, options);
    if (!taken) return false;
    this.tier.forget();
    if (held === undefined) return true;
    let current: CachedValue | Uint8Array | NoValue;
    try {
      current = await this.tier.readL2();
    } catch {
      return true; // L2 cannot say: create, as without tiers.
    }
    if (current === NO_VALUE || sameValue(held, current)) return true;
    await this.inner.release();
    return false;
  }

  release(): Promise<void> {
    return this.inner.release();
  }

  locked(): Promise<boolean> {
    return this.inner.locked();
  }
}
