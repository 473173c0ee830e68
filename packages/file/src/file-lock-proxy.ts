import { type CacheBackend, type LeaseMutex, ProxyBackend } from '@dogpile/core';
import { FileLocks } from './file-locks.js';
import type { FileLockOptions } from './options.js';

/**
 * A proxy that gives the backend behind it file-lock mutexes: `getMutex(key)` returns a
 * `FileLockMutex` from a {@link FileLocks} on `lockDirectory`, whatever the backend's own
 * `getMutex` says; every other call goes through unchanged. For a store with no cross-process
 * lock of its own (a third-party backend, `SqliteBackend` with `distributedLock: false`, a
 * `RedisBackend` used from one host), so processes on the host run one creator per key.
 *
 * @example
 * region.configure(new MyStoreBackend(), {
 *   expirationTime: '5m',
 *   wrap: [new FileLockProxy({ lockDirectory: '/var/lock/myapp' })],
 * });
 */
export class FileLockProxy extends ProxyBackend {
  readonly locks: FileLocks;

  constructor(options: FileLockOptions) {
    super();
    this.locks = new FileLocks(options);
  }

  /**
   * Forwards to `backend`, and shows its serializer and key mangler (as the region already takes
   * them from the innermost backend), so the proxy can also be used on its own.
   */
  override wrap(backend: CacheBackend): this {
    super.wrap(backend);
    this.serializer = backend.serializer;
    this.keyMangler = backend.keyMangler;
    return this;
  }

  override getMutex(key: string): LeaseMutex {
    return this.locks.mutex(key);
  }

  /** Gives back the locks still held, then closes the backend behind. */
  override async close(): Promise<void> {
    try {
      await this.locks.close();
    } finally {
      await this.proxied.close();
    }
  }
}

/**
 * The short form: `backend` behind a {@link FileLockProxy}. Configure the region with the result.
 *
 * @example
 * const region = makeRegion().configure(
 *   withFileLocks(new SqliteBackend({ filename: './cache.db', distributedLock: false }), {
 *     lockDirectory: './locks',
 *   }),
 *   { expirationTime: '5m' },
 * );
 */
export function withFileLocks(backend: CacheBackend, options: FileLockOptions): FileLockProxy {
  return new FileLockProxy(options).wrap(backend);
}
