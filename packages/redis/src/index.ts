import { registerBackend } from '@dogpile/core';
import type { RedisBackendOptions } from './options.js';
import { RedisBackend } from './redis-backend.js';

export { hashTag, keySlot } from './cluster-slots.js';
export { RedisBackendError, type RedisErrorCode } from './errors.js';
export type { RedisBackendOptions, SentinelAddress } from './options.js';
export { RedisBackend } from './redis-backend.js';
export { RedisMutex } from './redis-mutex.js';

// Importing the package makes region.configure('redis', { arguments }) work, as in dogpile.cache.
registerBackend('redis', (args) => new RedisBackend(args as RedisBackendOptions));
