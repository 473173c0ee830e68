import type { CacheMutex } from '../lock/mutex.js';
import type { NoValue } from '../no-value.js';
import { NO_VALUE } from '../no-value.js';
import type { CachedValue } from './cached-value.js';
import { jsonSerializer, type Serializer } from './serializer.js';
import { deserializeCachedValue, serializeCachedValue } from './wire-format.js';

/** Turns a region key into the key a backend stores (to shorten, hash or prefix it). */
export type KeyMangler = (key: string) => string;

/**
 * The base of every backend, the port of dogpile.cache's `CacheBackend`. A subclass implements
 * `get`, `set` and `delete` on {@link CachedValue}s; the multi forms default to one call per key,
 * so override them when the store can batch.
 *
 * When `serializer` is set the region stores bytes instead, through the `*Serialized` methods.
 * Their defaults pass the bytes to the plain methods, which is right for a store that keeps
 * whatever it is given (a `Map`, say); a store of bytes should extend {@link BytesBackend}.
 */
export abstract class CacheBackend {
  /**
   * Applied by the region to every key before it reaches this backend, unless the region has its
   * own. A property or, as in dogpile.cache, a method of the subclass. (Declared, not initialized,
   * so that a subclass's `keyMangler(key)` method is not shadowed by an own `undefined` field.)
   */
  declare keyMangler?: KeyMangler | undefined;
  /** When set, the region hands this backend `JSON(metadata)|payload` bytes instead of objects. */
  declare serializer?: Serializer | undefined;

  /**
   * Optional, for a store that answers without I/O (an in-process map): what {@link get} would
   * resolve to, returned at once, so that a region's hit costs no extra turn of the event loop.
   * A region uses it only while `get` is the method declared beside it: a subclass that overrides
   * `get` alone (to count, log or fail) is read through `get`. As `get`, it must keep a malformed
   * key (a lone surrogate) apart from every other key, or refuse it: without a key mangler a
   * region's hit passes it the caller's key having checked only that it is a string. A miss on
   * such a store runs the creator within the `getOrCreate` call.
   *
   * @example
   * readNow(key: string) { return this.map.get(key) ?? NO_VALUE; }
   */
  readNow?(key: string): CachedValue | NoValue;

  /** The stored value, or `NO_VALUE`. */
  abstract get(key: string): Promise<CachedValue | NoValue>;
  /** Stores `value` under `key`, replacing any previous value. */
  abstract set(key: string, value: CachedValue): Promise<void>;
  /** Removes `key`. Deleting a missing key is not an error. */
  abstract delete(key: string): Promise<void>;

  /** Values for `keys`, in the same order, `NO_VALUE` for each missing key. */
  getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    await Promise.all(Array.from(mapping, ([key, value]) => this.set(key, value)));
  }

  async deleteMulti(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.delete(key)));
  }

  getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.get(key) as Promise<unknown> as Promise<Uint8Array | NoValue>;
  }

  getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.getMulti(keys) as Promise<unknown> as Promise<Array<Uint8Array | NoValue>>;
  }

  setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.set(key, value as unknown as CachedValue);
  }

  setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.setMulti(mapping as unknown as ReadonlyMap<string, CachedValue>);
  }

  /**
   * A mutex for `key` shared beyond this process (Redis, SQLite, a lock file), or `null` to rely on
   * the region's in-process lock alone.
   */
  getMutex(_key: string): CacheMutex | null {
    return null;
  }

  /** Releases connections, handles and timers this backend opened. */
  async close(): Promise<void> {}
}

/**
 * The base for backends that store bytes (Redis, Memcached, SQLite, files). A subclass implements
 * the four `*Serialized` methods and `delete`; `get`/`set` and their multi forms are derived from
 * them with the `JSON(metadata)|payload` layout and `serializer` (JSON by default).
 */
export abstract class BytesBackend extends CacheBackend {
  override serializer: Serializer = jsonSerializer;

  abstract override getSerialized(key: string): Promise<Uint8Array | NoValue>;
  abstract override getSerializedMulti(
    keys: readonly string[],
  ): Promise<Array<Uint8Array | NoValue>>;
  abstract override setSerialized(key: string, value: Uint8Array): Promise<void>;
  abstract override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void>;

  async get(key: string): Promise<CachedValue | NoValue> {
    const bytes = await this.getSerialized(key);
    return bytes === NO_VALUE
      ? NO_VALUE
      : deserializeCachedValue(bytes as Uint8Array, this.serializer);
  }

  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const values = await this.getSerializedMulti(keys);
    return values.map((bytes) =>
      bytes === NO_VALUE ? NO_VALUE : deserializeCachedValue(bytes as Uint8Array, this.serializer),
    );
  }

  set(key: string, value: CachedValue): Promise<void> {
    return this.setSerialized(key, serializeCachedValue(value, this.serializer));
  }

  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    const bytes = new Map<string, Uint8Array>();
    for (const [key, value] of mapping)
      bytes.set(key, serializeCachedValue(value, this.serializer));
    return this.setSerializedMulti(bytes);
  }
}

/**
 * `backend.readNow`, bound, when a region may use it instead of `get`: the `get` it would skip is
 * the one declared on the same class as `readNow`. `undefined` otherwise.
 */
export function syncReader(
  backend: CacheBackend,
): ((key: string) => CachedValue | NoValue) | undefined {
  const readNow = backend.readNow;
  if (typeof readNow !== 'function') return undefined;
  let owner: object | null = backend;
  while (owner !== null && !Object.hasOwn(owner, 'readNow')) owner = Object.getPrototypeOf(owner);
  if (owner === null || (owner as CacheBackend).get !== backend.get) return undefined;
  return readNow.bind(backend);
}
