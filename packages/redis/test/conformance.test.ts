import { fileURLToPath } from 'node:url';
import { runConformance } from '@dogpile/conformance';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { createBackend } from './fixtures/conformance-factory.mjs';
import { captureErrors, noServers, targets } from './helpers.js';

// Every suite of the kit, against the standalone server and against the Cluster. Children of the
// cross-process suite build their backend from the same factory, reading the connection from the
// environment they inherit; each suite sets it before its children start.
for (const target of targets) {
  describe.skipIf(noServers)(`RedisBackend (${target.name})`, () => {
    const connection = noServers ? {} : target.connection();
    const useTarget = () => {
      process.env.DOGPILE_REDIS_CONFORMANCE = JSON.stringify(connection);
    };
    useTarget();

    // The kit's expired-holder tests release locks that expired: the backend reports each as
    // ERR_REDIS_LOCK_LOST. It must report nothing else (no failed extension, subscription or
    // release); the kit's own deliberate errors (unreadable values) are not ours to judge.
    let errors: ReturnType<typeof captureErrors>;
    beforeAll(() => {
      errors = captureErrors();
    });
    afterAll(() => {
      errors.stop();
      // By code: the factory builds backends from dist/, whose error class is not src/'s.
      const codeOf = (event: { error: unknown }) => (event.error as { code?: unknown }).code;
      const ours = errors.events.filter((event) => String(codeOf(event)).startsWith('ERR_REDIS_'));
      expect(ours.filter((event) => codeOf(event) !== 'ERR_REDIS_LOCK_LOST')).toEqual([]);
      expect(ours.length).toBeGreaterThan(0);
    });

    runConformance({
      name: `RedisBackend ${target.name}`,
      createBackend: (hints) => {
        useTarget();
        return createBackend(hints);
      },
      capabilities: {
        serialized: true,
        ttl: 'milliseconds',
        mutex: 'distributed',
        lockTtlMs: 800,
      },
      crossProcess: {
        factoryModule: fileURLToPath(
          new URL('./fixtures/conformance-factory.mjs', import.meta.url),
        ),
        processes: 4,
        callersPerProcess: 50,
      },
    });
  });
}
