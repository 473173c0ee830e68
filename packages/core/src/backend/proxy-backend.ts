import { ValidationError } from '../errors.js';
import type { CacheMutex } from '../lock/mutex.js';
import type { NoValue } from '../no-value.js';
import { CacheBackend } from './backend.js';
import type { CachedValue } from './cached-value.js';

/**
 * A backend that sits in front of another and passes every call through; subclasses override the
 * calls they change (logging, metrics, namespacing, compression). Proxies stack: in
 * `region.configure(backend, { wrap: [a, b] })` `a` is outermost, so a call goes a → b → backend.
 * The region takes the key mangler and serializer from the innermost backend, so a proxy sees the
 * same keys and (for byte backends) the same `*Serialized` calls the backend does.
 *
 * @example
 * class CountingProxy extends ProxyBackend {
 *   gets = 0;
 *   override get(key: string) { this.gets++; return this.proxied.get(key); }
 * }
 */
export class ProxyBackend extends CacheBackend {
  #proxied: CacheBackend | undefined;

  /** The backend behind every proxy in front of `backend` (`backend` itself if it is none). */
  static innermost(backend: CacheBackend): CacheBackend {
    let inner = backend;
    while (inner instanceof ProxyBackend) inner = inner.proxied;
    return inner;
  }

  /** The backend this proxy forwards to. */
  get proxied(): CacheBackend {
    if (!this.#proxied) {
      throw new ValidationError(
        `${this.constructor.name} is not wrapping a backend yet. Pass it to region.configure(..., { wrap: [proxy] }) or call proxy.wrap(backend).`,
      );
    }
    return this.#proxied;
  }

  /** Makes this proxy forward to `backend`, and returns this proxy. */
  wrap(backend: CacheBackend): this {
    if (this.#proxied) {
      throw new ValidationError(
        `${this.constructor.name} already wraps a backend; create one proxy instance per region.`,
      );
    }
    this.#proxied = backend;
    return this;
  }

  get(key: string): Promise<CachedValue | NoValue> {
    return this.proxied.get(key);
  }
  set(key: string, value: CachedValue): Promise<void> {
    return this.proxied.set(key, value);
  }
  delete(key: string): Promise<void> {
    return this.proxied.delete(key);
  }
  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.proxied.getMulti(keys);
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.proxied.setMulti(mapping);
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return this.proxied.deleteMulti(keys);
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.proxied.getSerialized(key);
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.proxied.getSerializedMulti(keys);
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.proxied.setSerialized(key, value);
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.proxied.setSerializedMulti(mapping);
  }
  override getMutex(key: string): CacheMutex | null {
    return this.proxied.getMutex(key);
  }
  override close(): Promise<void> {
    return this.proxied.close();
  }
}
