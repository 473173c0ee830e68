import {
  type CachedValue,
  type CacheMutex,
  type NoValue,
  ValidationError,
  validateKey,
} from '@dogpile/core';
import { checkOptions } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/**
 * Options of {@link NamespaceProxy}.
 *
 * @example
 * new NamespaceProxy({ namespace: 'users:' })
 */
export interface NamespaceProxyOptions {
  /**
   * Put in front of every key (and so of every lock key) before it reaches the wrapped backend. A
   * non-empty, well-formed string; end it with a separator (`'users:'`) so `a` + `b:c` cannot
   * meet `a:b` + `c`. Required.
   */
  namespace: string;
}

/**
 * A backend that a source of keys, such as a `RedisBackend` with a `client` that can `SCAN`, or
 * any backend with a `scanKeys(prefix)` method, lets {@link NamespaceProxy.clear} enumerate.
 */
export interface ScannableBackend {
  /** Every stored key that starts with `prefix` (lock keys excluded or not: both are fine). */
  scanKeys(prefix: string): AsyncIterable<string>;
}

const KNOWN = ['namespace'] as const;
/** How many prefixed keys {@link NamespaceProxy} keeps for reuse. */
const RECENT_KEYS = 4096;

/**
 * Prefixes every key with a namespace, so several regions (or applications) share one store
 * without their keys or locks meeting. `clear()` deletes the namespace's keys when the wrapped
 * backend can enumerate them.
 *
 * @example
 * region.configure(new RedisBackend({ url }), { wrap: [new NamespaceProxy({ namespace: 'users:' })] });
 */
export class NamespaceProxy extends PassThroughProxy {
  /** The prefix put in front of every key. */
  readonly namespace: string;

  constructor(options: NamespaceProxyOptions) {
    super();
    const o = checkOptions('NamespaceProxy', options, KNOWN);
    const namespace = o.namespace;
    if (typeof namespace !== 'string' || namespace === '' || !namespace.isWellFormed()) {
      throw new ValidationError(
        `NamespaceProxy namespace must be a non-empty, well-formed string such as 'users:'; got ${typeof namespace === 'string' ? JSON.stringify(namespace) : typeof namespace}.`,
      );
    }
    this.namespace = namespace;
  }

  /**
   * Recent keys and their prefixed form: a store hashes a key string once and keeps the hash in
   * it, so handing it the same prefixed string again makes its lookup cheap, where a new
   * concatenation would be flattened and hashed on every call. Only checked keys go in; it is
   * emptied when full.
   */
  readonly #recent = new Map<string, string>();

  #key(key: string): string {
    let prefixed = this.#recent.get(key);
    if (prefixed === undefined) {
      prefixed = this.namespace + validateKey(key);
      if (this.#recent.size >= RECENT_KEYS) this.#recent.clear();
      this.#recent.set(key, prefixed);
    }
    return prefixed;
  }

  #keys(keys: readonly string[]): string[] {
    return keys.map((key) => this.#key(key));
  }

  #mapping<T>(mapping: ReadonlyMap<string, T>): Map<string, T> {
    const out = new Map<string, T>();
    for (const [key, value] of mapping) out.set(this.#key(key), value);
    return out;
  }

  // The two reads are the hit path: no async wrapper, a bad key still rejects rather than throws.
  override get(key: string): Promise<CachedValue | NoValue> {
    let prefixed: string;
    try {
      prefixed = this.#key(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.proxied.get(prefixed);
  }
  override async set(key: string, value: CachedValue): Promise<void> {
    return this.proxied.set(this.#key(key), value);
  }
  override async delete(key: string): Promise<void> {
    return this.proxied.delete(this.#key(key));
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.proxied.getMulti(this.#keys(keys));
  }
  override async setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.proxied.setMulti(this.#mapping(mapping));
  }
  override async deleteMulti(keys: readonly string[]): Promise<void> {
    return this.proxied.deleteMulti(this.#keys(keys));
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    let prefixed: string;
    try {
      prefixed = this.#key(key);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.proxied.getSerialized(prefixed);
  }
  override async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.proxied.getSerializedMulti(this.#keys(keys));
  }
  override async setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.proxied.setSerialized(this.#key(key), value);
  }
  override async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.proxied.setSerializedMulti(this.#mapping(mapping));
  }
  override getMutex(key: string): CacheMutex | null {
    return this.proxied.getMutex(this.#key(key));
  }

  /**
   * Deletes every key of this namespace, when the wrapped backend has a `scanKeys(prefix)` method
   * ({@link ScannableBackend}); returns how many were deleted. Otherwise throws a
   * `ValidationError`: use a region's `invalidate()` instead, which works on every backend.
   */
  async clear(): Promise<number> {
    const backend = this.proxied as Partial<ScannableBackend>;
    if (typeof backend.scanKeys !== 'function') {
      throw new ValidationError(
        `NamespaceProxy.clear() needs a backend that can list its keys (a scanKeys(prefix) method); ${this.proxied.constructor.name} cannot. Use region.invalidate() instead.`,
      );
    }
    let deleted = 0;
    let batch: string[] = [];
    for await (const key of backend.scanKeys.call(this.proxied, this.namespace)) {
      if (!key.startsWith(this.namespace)) continue;
      batch.push(key);
      if (batch.length >= 500) {
        await this.proxied.deleteMulti(batch);
        deleted += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) await this.proxied.deleteMulti(batch);
    return deleted + batch.length;
  }
}
