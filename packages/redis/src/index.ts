import { registerBackend } from '@dogpile/core';
import type { RedisBackendOptions } from './options.js';
import { RedisBackend } from './redis-backend.js';

/** @deprecated The Redis lock is core's `LeaseMutex` over a {@link RedisLeaseStore}; this is its old name. */
export { LeaseMutex as RedisMutex } from '@dogpile/core';
export { hashTag, keySlot } from './cluster-slots.js';
export { RedisBackendError, type RedisErrorCode } from './errors.js';
export type { RedisBackendOptions, SentinelAddress } from './options.js';
export { RedisBackend } from './redis-backend.js';
export {
  RedisBus,
  type RedisBusListener,
  type RedisBusMessage,
  type RedisBusOptions,
} from './redis-bus.js';
export { RedisLeaseStore } from './redis-lease-store.js';

// Importing the package makes region.configure('redis', { arguments }) work, as in dogpile.cache.
registerBackend('redis', (args) => new RedisBackend(args as RedisBackendOptions));
