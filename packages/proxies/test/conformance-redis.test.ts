import { runConformance } from '@dogpile/conformance';
import { describe } from 'vitest';
import { createBackend } from './fixtures/proxy-factory.mjs';
import { noRedis, redisUrl } from './helpers.js';

// Each proxy alone over a real RedisBackend: a byte store, so the region calls *Serialized, and
// a distributed mutex that goes through the proxy.
describe.skipIf(noRedis)('over RedisBackend', () => {
  for (const name of ['namespace', 'timeout', 'breaker', 'logging', 'stats', 'gzip', 'brotli', 'encryption']) {
    runConformance({
      name: `${name} over RedisBackend`,
      createBackend: (hints) => {
        process.env.DOGPILE_PROXY_REDIS_URL = redisUrl();
        process.env.DOGPILE_PROXY = name;
        return createBackend(hints);
      },
      capabilities: { serialized: true, ttl: 'milliseconds', mutex: 'distributed', lockTtlMs: 800 },
    });
  }
});
