import { registerBackend } from '@dogpile/core';
import { MemcachedBackend } from './memcached-backend.js';
import type { MemcachedBackendOptions } from './options.js';

/** The Memcached lock is core's `LeaseMutex` over a {@link MemcachedLeaseStore}; this is its name in the design. */
export { LeaseMutex as MemcachedMutex } from '@dogpile/core';
export { MemcachedBackendError, type MemcachedErrorCode } from './errors.js';
export { exptime, RELATIVE_LIMIT_SECONDS } from './expire-time.js';
export { pymemcacheMurmur3, pymemcacheServer } from './key-placement.js';
export { MemcachedBackend } from './memcached-backend.js';
export { leaseSeconds, MemcachedLeaseStore } from './memcached-lease-store.js';
export type { MemcachedBackendOptions } from './options.js';
export { MAX_KEY_BYTES, wireKey } from './wire-key.js';

// Importing the package makes region.configure('memcached', { arguments }) work, as in dogpile.cache.
// Python configs name the client library; every one of them means Memcached here.
for (const name of ['memcached', 'pymemcache', 'pylibmc', 'bmemcached']) {
  registerBackend(name, (args) => new MemcachedBackend(args as MemcachedBackendOptions));
}
