import { fileURLToPath } from 'node:url';
import { runConformance } from '@dogpile/conformance';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { createBackend } from './fixtures/conformance-factory.mjs';
import { captureErrors, noServers, targets } from './helpers.js';

// Every suite of the kit, against one server and against three. Children of the cross-process
// suite build their backend from the same factory, reading the servers from the environment
// they inherit; each suite sets it before its children start.
for (const target of targets) {
  describe.skipIf(noServers)(`MemcachedBackend (${target.name})`, () => {
    const servers = noServers ? '' : target.servers();
    const useTarget = () => {
      process.env.DOGPILE_MEMCACHED_CONFORMANCE = servers;
    };
    useTarget();

    // The kit's expired-holder tests release locks that expired: the backend reports each as
    // ERR_MEMCACHED_LOCK_LOST; the kit's oversized value is reported as too large. It must
    // report nothing else (no failed extension or release).
    let errors: ReturnType<typeof captureErrors>;
    beforeAll(() => {
      errors = captureErrors();
    });
    afterAll(() => {
      errors.stop();
      // By code: the factory builds backends from dist/, whose error class is not src/'s.
      const codeOf = (event: { error: unknown }) => (event.error as { code?: unknown }).code;
      const ours = errors.events.filter((event) =>
        String(codeOf(event)).startsWith('ERR_MEMCACHED_'),
      );
      expect(
        ours.filter(
          (event) =>
            codeOf(event) !== 'ERR_MEMCACHED_LOCK_LOST' &&
            codeOf(event) !== 'ERR_MEMCACHED_VALUE_TOO_LARGE',
        ),
      ).toEqual([]);
      expect(ours.length).toBeGreaterThan(0);
    });

    runConformance({
      name: `MemcachedBackend ${target.name}`,
      createBackend: (hints) => {
        useTarget();
        return createBackend(hints);
      },
      capabilities: {
        serialized: true,
        ttl: 'seconds',
        mutex: 'distributed',
        // Memcached counts whole seconds on a clock that ticks once a second: a 1 s lease (given
        // 2 s) can end 1.2 s after it was taken, too close to the kit's half-TTL check on a
        // loaded machine. 2 s (given 3 s) keeps a second of margin.
        lockTtlMs: 2000,
        // The servers run with -I 2m; the item also holds the key and memcached's header.
        maxValueBytes: 2 * 1024 * 1024 - 512,
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
