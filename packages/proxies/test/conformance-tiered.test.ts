import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { runConformance } from '@dogpile/conformance';
import { afterAll, beforeAll, describe } from 'vitest';
import { createBackend } from './fixtures/proxy-factory.mjs';
import { captureErrors, noRedis, redisUrl } from './helpers.js';

const factoryModule = fileURLToPath(new URL('./fixtures/proxy-factory.mjs', import.meta.url));

for (const name of ['tiered', 'chain']) {
  runConformance({
    name: `${name} over MemoryBackend`,
    createBackend: (hints) => {
      delete process.env.DOGPILE_PROXY_REDIS_URL;
      process.env.DOGPILE_PROXY = name;
      return createBackend(hints);
    },
    capabilities: { mutex: 'local' },
  });
}

// L1 + Redis L2 + RedisBus, alone and in the full chain (stats → logging → namespace → tiered →
// compression → encryption → Redis), across processes too.
describe.skipIf(noRedis)('over RedisBackend', () => {
  let errors: ReturnType<typeof captureErrors>;
  beforeAll(() => {
    errors = captureErrors(); // The kit's expired-lock tests report lost locks: expected.
    process.env.DOGPILE_PROXY_BUS_CHANNEL = `t:${randomUUID()}`;
  });
  afterAll(() => errors.stop());
  for (const name of ['tiered', 'chain']) {
    describe(name, () => {
      const use = () => {
        process.env.DOGPILE_PROXY_REDIS_URL = `${redisUrl()}/3`;
        process.env.DOGPILE_PROXY = name;
      };
      runConformance({
        name: `${name} over RedisBackend`,
        createBackend: (hints) => {
          use();
          return createBackend(hints);
        },
        capabilities: {
          serialized: true,
          ttl: 'milliseconds',
          mutex: 'distributed',
          lockTtlMs: 800,
        },
        crossProcess: { factoryModule, processes: 3, callersPerProcess: 20 },
      });
    });
  }
});
