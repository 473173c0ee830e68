import { createKeyv } from '@keyv/redis';
import { createCache } from 'cache-manager';
import { TTL_MS } from '../fixtures.js';
import type { Contender, NotApplicable, Store } from './contender.js';

/**
 * cache-manager 7 `wrap`, which coalesces concurrent calls for one key within the process.
 * Memory: its default store (a Keyv over a Map, no serialization). Redis: `@keyv/redis`, as its
 * README shows (`createKeyv(url)`, node-redis underneath).
 */
export async function cacheManager(store: Store): Promise<Contender | NotApplicable> {
  if (store.kind === 'sqlite') {
    return {
      name: 'cache-manager wrap',
      reason:
        "keyv's SQLite store (@keyv/sqlite) needs the sqlite3 addon, whose install downloads a prebuilt binary",
    };
  }
  const cache =
    store.kind === 'memory'
      ? createCache({ ttl: TTL_MS })
      : createCache({ ttl: TTL_MS, stores: [createKeyv(store.url)] });
  const via = store.kind === 'memory' ? '' : ' (@keyv/redis)';
  return {
    name: `cache-manager wrap${via}`,
    id: 'cm',
    getOrCreate: (key, creator) => cache.wrap(key, creator),
    multi: { name: `cache-manager mget${via}`, get: (keys) => cache.mget([...keys]) },
    close: () => cache.disconnect(),
  };
}
