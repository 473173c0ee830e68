import { type CacheMutex, NullMutex } from '../lock/mutex.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { CacheBackend } from './backend.js';
import type { CachedValue } from './cached-value.js';

/**
 * A backend that stores nothing: every read misses and every caller runs its creator, with no
 * locking. Use it to switch caching off without changing the code that uses the region.
 */
export class NullBackend extends CacheBackend {
  async get(_key: string): Promise<CachedValue | NoValue> {
    return NO_VALUE;
  }
  override async getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return keys.map(() => NO_VALUE);
  }
  async set(_key: string, _value: CachedValue): Promise<void> {}
  async delete(_key: string): Promise<void> {}
  override getMutex(_key: string): CacheMutex {
    return new NullMutex();
  }
}
