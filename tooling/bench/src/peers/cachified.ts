import { cachified as cachifiedCall } from '@epic-web/cachified';
import { TTL_MS } from '../fixtures.js';
import type { Contender, NotApplicable, Store } from './contender.js';

/**
 * @epic-web/cachified over a `Map`, as most of its README examples use it. It dedupes concurrent
 * calls for one key per cache object within the process. Its store adapters for Redis and
 * SQLite are separate third-party packages (for node-redis, not ioredis), left out here.
 */
export async function cachified(store: Store): Promise<Contender | NotApplicable> {
  if (store.kind !== 'memory') {
    return {
      name: 'cachified',
      reason: 'no Redis/SQLite store in the package itself (only third-party adapters)',
    };
  }
  const cache = new Map();
  return {
    name: 'cachified',
    id: 'cachified',
    getOrCreate: (key, getFreshValue) => cachifiedCall({ key, cache, ttl: TTL_MS, getFreshValue }),
    // No multi-key read (createBatch batches the creators of misses, not the reads).
    close: async () => cache.clear(),
  };
}
