import { backendSuite } from '@dogpile/conformance';
import { CacheBackend, type CachedValue, NO_VALUE, type NoValue } from '@dogpile/core';

/** Confuses a cached `null` with "nothing stored", as a store that returns null for misses does. */
class NullAsMissBackend extends CacheBackend {
  readonly #data = new Map<string, CachedValue>();

  async get(key: string): Promise<CachedValue | NoValue> {
    const value = this.#data.get(key);
    return value === undefined || value.payload === null ? NO_VALUE : value;
  }
  async set(key: string, value: CachedValue): Promise<void> {
    this.#data.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }
}

backendSuite({ name: 'null as miss', createBackend: () => new NullAsMissBackend() });
