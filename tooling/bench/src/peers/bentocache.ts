import { BentoCache, bentostore } from 'bentocache';
import { kyselyDriver } from 'bentocache/drivers/kysely';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { TTL_MS } from '../fixtures.js';
import type { Contender, Store } from './contender.js';

type Layered = ReturnType<typeof bentostore>;

function storeFor(store: Store, serialize: boolean): Layered {
  switch (store.kind) {
    case 'memory':
      // maxItems above the 1,024 hot keys (its default, 1,000, would evict on every lap).
      return bentostore().useL1Layer(memoryDriver({ maxItems: 10_000, serialize }));
    case 'redis': {
      // Redis alone (L2), so a hit is a Redis round trip as for everyone else here; the docs'
      // multi-tier setup would answer hits from its in-memory L1 instead.
      const { hostname, port } = new URL(store.url);
      return bentostore().useL2Layer(
        redisDriver({ connection: { host: hostname, port: Number(port) } }),
      );
    }
    case 'sqlite':
      // The documented SQL driver through Kysely, on better-sqlite3, in its own table of the
      // same file dogpile uses.
      return bentostore().useL2Layer(
        kyselyDriver({
          connection: new Kysely({
            dialect: new SqliteDialect({ database: new Database(store.filename) }),
          }),
          tableName: 'bentocache',
        }),
      );
  }
}

function make(store: Store, serialize: boolean, name: string, id: string): Contender {
  // Stampede protection is built in and always on; grace periods stay off (the default), like
  // the other contenders, which serve no stale values here.
  const bento = new BentoCache({
    default: 'cache',
    ttl: TTL_MS,
    stores: { cache: storeFor(store, serialize) },
  });
  return {
    name,
    id,
    getOrCreate: (key, factory) => bento.getOrSet({ key, factory }),
    // No multi-key read in bentocache 1.6 (get/getOrSet take one key).
    close: () => bento.disconnectAll(),
  };
}

/** bentocache `getOrSet`, with its defaults (the memory driver stores serialized copies). */
export async function bentocache(store: Store): Promise<Contender> {
  return make(store, true, 'bentocache getOrSet', 'bento');
}

/**
 * bentocache with `serialize: false` on its memory driver: references, as dogpile's
 * MemoryBackend stores them by default; the like-for-like memory comparison.
 */
export async function bentocacheReferences(store: Store): Promise<Contender> {
  if (store.kind !== 'memory') throw new Error('serialize: false is a memory-driver option');
  return make(store, false, 'bentocache getOrSet (serialize: false)', 'bento-ref');
}
