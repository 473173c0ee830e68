import { createCache } from 'async-cache-dedupe';
import { Redis } from 'ioredis';
import { TTL_SECONDS } from '../fixtures.js';
import type { Contender, NotApplicable, Store } from './contender.js';

interface Call {
  key: string;
  creator: () => Promise<unknown>;
}

/**
 * async-cache-dedupe: `define` a function once, then call it; concurrent calls with the same
 * argument share one run within the process. Its own Redis storage takes an ioredis client.
 */
export async function asyncCacheDedupe(store: Store): Promise<Contender | NotApplicable> {
  if (store.kind === 'sqlite') {
    return { name: 'async-cache-dedupe', reason: 'storages are memory and Redis only' };
  }
  const client = store.kind === 'redis' ? new Redis(store.url) : undefined;
  const cache = createCache({
    ttl: TTL_SECONDS,
    storage: client
      ? { type: 'redis', options: { client } }
      : // Above the 1,024 hot keys (its default per-function size, 1,024, leaves no slack).
        { type: 'memory', options: { size: 10_000 } },
  }).define(
    'value',
    // The argument carries the call's creator; the documented `serialize` option makes the
    // cache key out of its `key` alone.
    { serialize: (arg: Call) => arg.key },
    (arg: Call) => arg.creator(),
  );
  return {
    name: store.kind === 'redis' ? 'async-cache-dedupe (redis storage)' : 'async-cache-dedupe',
    id: 'acd',
    getOrCreate: (key, creator) => cache.value({ key, creator }),
    // No multi-key read.
    close: async () => {
      await client?.quit();
    },
  };
}
