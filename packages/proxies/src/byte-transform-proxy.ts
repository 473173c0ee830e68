import {
  type CacheBackend,
  CachedValue,
  deserializeCachedValue,
  NO_VALUE,
  type NoValue,
  reportError,
  type Serializer,
  serializeCachedValue,
  v8Serializer,
} from '@dogpile/core';
import { UnreadableValueError } from './errors.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/**
 * The base of proxies that rewrite stored bytes (compression, encryption). Over a byte store (a
 * backend with a `serializer`) they rewrite what the region's `*Serialized` calls carry. Over a
 * store of objects (a `MemoryBackend` without `serialize`) they serialize each value themselves
 * (with `serializer`, v8 by default) and keep the rewritten bytes in the store, which keeps
 * whatever it is given; reads then hand out fresh copies.
 *
 * A stored value the proxy cannot read is a miss (reported once per read on `dogpile:error` as
 * `ERR_PROXY_UNREADABLE`), so the region regenerates and overwrites it.
 */
export abstract class ByteTransformProxy extends PassThroughProxy {
  /** The serializer used over a store of objects. */
  readonly #ownSerializer: Serializer;
  #codec: Serializer;

  constructor(serializer: Serializer | undefined) {
    super();
    this.#ownSerializer = serializer ?? v8Serializer;
    this.#codec = this.#ownSerializer;
  }

  override wrap(backend: CacheBackend): this {
    super.wrap(backend);
    this.#codec = backend.serializer ?? this.#ownSerializer;
    return this;
  }

  /** The bytes to store for `bytes` written under `key`. */
  protected abstract encode(key: string, bytes: Uint8Array): Uint8Array;
  /**
   * What was stored under `key` turned back into the bytes written, or `NO_VALUE` for a value
   * that was not written this way and must not be read, or a `CachedValue` to return as is (an
   * object a store of objects held before this proxy was added). Throws
   * {@link UnreadableValueError} for bytes that are damaged.
   */
  protected abstract decode(key: string, stored: unknown): Uint8Array | CachedValue | NoValue;
  /** The name failures are reported under (`'decompress'`, `'decrypt'`). */
  protected abstract readonly operation: string;

  /**
   * Unreadable values were met and no readable one since: further ones are not reported again
   * (a dropped key, or a foreign writer, would otherwise report every value it touched).
   */
  #unreadable = false;

  #read(key: string, stored: unknown): Uint8Array | CachedValue | NoValue {
    if (stored === NO_VALUE || stored === undefined || stored === null) return NO_VALUE;
    try {
      const read = this.decode(key, stored);
      if (read !== NO_VALUE) this.#unreadable = false;
      return read;
    } catch (error) {
      if (this.#unreadable) return NO_VALUE;
      this.#unreadable = true;
      const reported =
        error instanceof UnreadableValueError
          ? error
          : new UnreadableValueError(
              `${this.constructor.name} could not read the value stored under "${key}"; it is treated as a miss and regenerated.`,
              { cause: error },
            );
      reportError({ operation: this.operation, key, error: reported });
      return NO_VALUE;
    }
  }

  #toValue(bytes: Uint8Array | CachedValue | NoValue): CachedValue | NoValue {
    if (bytes === NO_VALUE || bytes instanceof CachedValue) return bytes;
    return deserializeCachedValue(bytes as Uint8Array, this.#codec);
  }

  #toBytes(read: Uint8Array | CachedValue | NoValue): Uint8Array | NoValue {
    // An object held by a store of objects, read through *Serialized: give it as bytes.
    return read instanceof CachedValue ? serializeCachedValue(read, this.#codec) : read;
  }

  override async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.#toBytes(this.#read(key, await this.proxied.getSerialized(key)));
  }
  override async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    const stored = await this.proxied.getSerializedMulti(keys);
    return stored.map((value, i) => this.#toBytes(this.#read(keys[i]!, value)));
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.proxied.setSerialized(key, this.encode(key, value));
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const out = new Map<string, Uint8Array>();
    for (const [key, value] of mapping) out.set(key, this.encode(key, value));
    return this.proxied.setSerializedMulti(out);
  }

  override async get(key: string): Promise<CachedValue | NoValue> {
    return this.#toValue(this.#read(key, await this.proxied.getSerialized(key)));
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const stored = await this.proxied.getSerializedMulti(keys);
    return stored.map((value, i) => this.#toValue(this.#read(keys[i]!, value)));
  }
  override set(key: string, value: CachedValue): Promise<void> {
    return this.setSerialized(key, serializeCachedValue(value, this.#codec));
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    const out = new Map<string, Uint8Array>();
    for (const [key, value] of mapping) out.set(key, serializeCachedValue(value, this.#codec));
    return this.setSerializedMulti(out);
  }
}
