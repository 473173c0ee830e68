import {
  CacheBackend,
  type CachedValue,
  deserializeCachedValue,
  NO_VALUE,
  type NoValue,
  rejectUnknownOptions,
  type Serializer,
  serializeCachedValue,
  ValidationError,
  v8Serializer,
} from '@dogpile/core';
import { LRUCache } from 'lru-cache';
import { MEMORY_BACKEND_OPTIONS, type MemoryBackendOptions } from './options.js';

/** What both a `Map` and an `LRUCache` offer. */
interface Store {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
  delete(key: string): boolean;
  clear(): void;
  readonly size: number;
}

function resolveSerializer(option: MemoryBackendOptions['serialize']): Serializer | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return v8Serializer;
  if (typeof option.serialize === 'function' && typeof option.deserialize === 'function')
    return option;
  throw new ValidationError('MemoryBackend serialize must be true, false, or a Serializer.');
}

/**
 * Keeps values in this process: a `Map`, or with `maxEntries` an LRU. The in-process dogpile lock
 * comes from the region, so `getMutex` returns `null`.
 *
 * When `serialize` is on, the region stores `JSON(metadata)|payload` bytes here and reads give
 * fresh copies; otherwise the region's `CachedValue` objects are stored as they are.
 */
export class MemoryBackend extends CacheBackend {
  readonly #store: Store;

  constructor(options: MemoryBackendOptions = {}) {
    super();
    rejectUnknownOptions(options, MEMORY_BACKEND_OPTIONS, 'MemoryBackend');
    const { maxEntries, cacheDict } = options;
    if (maxEntries !== undefined) {
      if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
        throw new ValidationError(
          `MemoryBackend maxEntries must be a positive integer; got ${String(maxEntries)}.`,
        );
      }
      if (cacheDict) {
        throw new ValidationError('MemoryBackend takes maxEntries or cacheDict, not both.');
      }
      this.#store = new LRUCache<string, {}>({ max: maxEntries });
    } else if (cacheDict !== undefined) {
      if (!(cacheDict instanceof Map))
        throw new ValidationError('MemoryBackend cacheDict must be a Map.');
      this.#store = cacheDict;
    } else {
      this.#store = new Map();
    }
    this.serializer = resolveSerializer(options.serialize);
  }

  /** The number of entries held. */
  get size(): number {
    return this.#store.size;
  }

  get(key: string): Promise<CachedValue | NoValue> {
    try {
      return Promise.resolve(this.readNow(key));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** What {@link get} resolves to, at once: a region's hit on this store takes no extra turn. */
  override readNow(key: string): CachedValue | NoValue {
    const stored = this.#store.get(key);
    if (stored === undefined) return NO_VALUE;
    if (this.serializer === undefined) return stored as CachedValue;
    return deserializeCachedValue(stored as Uint8Array, this.serializer);
  }

  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const out: Array<CachedValue | NoValue> = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const stored = this.#store.get(keys[i]!);
      out[i] =
        stored === undefined
          ? NO_VALUE
          : this.serializer === undefined
            ? (stored as CachedValue)
            : deserializeCachedValue(stored as Uint8Array, this.serializer);
    }
    return Promise.resolve(out);
  }

  set(key: string, value: CachedValue): Promise<void> {
    this.#store.set(
      key,
      this.serializer === undefined ? value : serializeCachedValue(value, this.serializer),
    );
    return Promise.resolve();
  }

  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    for (const [key, value] of mapping) {
      this.#store.set(
        key,
        this.serializer === undefined ? value : serializeCachedValue(value, this.serializer),
      );
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.#store.delete(key);
    return Promise.resolve();
  }

  override deleteMulti(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#store.delete(key);
    return Promise.resolve();
  }

  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    const stored = this.#store.get(key);
    return Promise.resolve(stored === undefined ? NO_VALUE : (stored as Uint8Array));
  }

  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return Promise.resolve(
      keys.map((key) => (this.#store.get(key) as Uint8Array | undefined) ?? NO_VALUE),
    );
  }

  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    this.#store.set(key, value);
    return Promise.resolve();
  }

  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [key, value] of mapping) this.#store.set(key, value);
    return Promise.resolve();
  }

  /** Drops every entry. */
  clear(): void {
    this.#store.clear();
  }

  override async close(): Promise<void> {
    this.#store.clear();
  }
}
