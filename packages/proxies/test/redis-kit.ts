import { runConformance } from '@dogpile/conformance';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { createBackend } from './fixtures/proxy-factory.mjs';
import { captureErrors, noRedis, redisUrl } from './helpers.js';

/**
 * Registers the kit for each proxy in `names` alone over a real RedisBackend: a byte store, so the
 * region calls *Serialized, and a distributed mutex that goes through the proxy. Each kit file
 * passes its own Redis `database`: the kit's bare keys, such as '', are not prefixed, and files
 * run in parallel.
 */
export function proxiesOverRedis(names: readonly string[], database: number): void {
  describe.skipIf(noRedis)('over RedisBackend', () => {
    // The kit's expired-holder tests release expired locks: the backend reports each as
    // ERR_REDIS_LOCK_LOST. Nothing else of Redis's or ours may be reported.
    let errors: ReturnType<typeof captureErrors>;
    beforeAll(() => {
      errors = captureErrors();
    });
    afterAll(() => {
      errors.stop();
      const codeOf = (event: { error: unknown }) =>
        String((event.error as { code?: unknown }).code);
      const ours = errors.events.filter((e) => /^ERR_(REDIS|BACKEND|CIRCUIT)_/.test(codeOf(e)));
      expect(ours.filter((e) => codeOf(e) !== 'ERR_REDIS_LOCK_LOST').map(codeOf)).toEqual([]);
    });
    for (const name of names) {
      runConformance({
        name: `${name} over RedisBackend`,
        createBackend: (hints) => {
          process.env.DOGPILE_PROXY_REDIS_URL = `${redisUrl()}/${database}`;
          process.env.DOGPILE_PROXY = name;
          return createBackend(hints);
        },
        capabilities: {
          serialized: true,
          ttl: 'milliseconds',
          mutex: 'distributed',
          lockTtlMs: 800,
        },
      });
    }
  });
}
