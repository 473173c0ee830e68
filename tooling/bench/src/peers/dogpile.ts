import { type CacheBackend, makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { RedisBackend } from '@dogpile/redis';
import { SqliteBackend } from '@dogpile/sqlite';
import { TTL_SECONDS } from '../fixtures.js';
import type { Contender, Store } from './contender.js';

function backendFor(store: Store, batchReads = true): CacheBackend {
  switch (store.kind) {
    case 'memory':
      // As the README shows it: an unbounded Map holding references.
      return new MemoryBackend();
    case 'redis':
      // The distributed lock on, as a deployment with several processes would run it; the
      // server-side TTL longer than the region's, as the README advises.
      return new RedisBackend({
        url: store.url,
        distributedLock: true,
        redisExpirationTime: TTL_SECONDS * 2,
        ...(batchReads ? {} : { batchReads: false }),
      });
    case 'sqlite':
      // The SQLite lock (core's LeaseMutex, cross-process) is on by default.
      return new SqliteBackend({ filename: store.filename, sqliteExpirationTime: TTL_SECONDS * 2 });
  }
}

function make(store: Store, batchReads: boolean, name: string, id: string): Contender {
  const region = makeRegion().configure(backendFor(store, batchReads), {
    expirationTime: TTL_SECONDS,
  });
  return {
    name,
    id,
    getOrCreate: (key, creator) => region.getOrCreate(key, creator),
    multi: { name: 'dogpile getMulti', get: (keys) => region.getMulti(keys) },
    close: () => region.close(),
  };
}

/** Ours: a region's `getOrCreate` and `getMulti`, each backend with its defaults. */
export async function dogpile(store: Store): Promise<Contender> {
  return make(store, true, 'dogpile getOrCreate', 'dogpile');
}

/**
 * Ours on Redis with `batchReads: false`: the backend then leaves ioredis's auto-pipelining on
 * (one write for the commands of a turn, but a lone read waits for the next turn) instead of
 * sending a lone read at once and gathering concurrent ones into one MGET. Shown so the
 * trade-off is visible at 1 and at 64 in flight.
 */
export async function dogpileUnpipelined(store: Store): Promise<Contender> {
  if (store.kind !== 'redis') throw new Error('batchReads is a Redis option');
  return make(store, false, 'dogpile getOrCreate (batchReads off: auto-pipelined)', 'dogpile-np');
}
