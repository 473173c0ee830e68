import { runConformance } from '@dogpile/conformance';
import { createBackend } from './fixtures/proxy-factory.mjs';

// Each proxy alone over a MemoryBackend of objects: the region calls get/set, not *Serialized.
for (const name of [
  'namespace',
  'timeout',
  'breaker',
  'logging',
  'stats',
  'gzip',
  'brotli',
  'encryption',
]) {
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
