import { makeRegion } from '@dogpile/core';
import { MemcachedBackend } from '@dogpile/memcached';
import { KeyvMemcache } from '@keyv/memcache';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import memjs from 'memjs';
import { HOT_KEYS, makeKeys, TTL_MS, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';
import type { Contender } from '../peers/contender.js';
import { hitCase } from './hit-case.js';

const BASELINE = 'raw memjs get';
const SILENT = { log() {} };

/** Iterations per round of the Memcached hit path at 1 and at 64 in flight. */
export const MEMCACHED_HIT_SETTINGS = {
  full: [
    { iterations: 5_000, rounds: 9 },
    { iterations: 20_000, rounds: 9 },
  ],
  quick: [
    { iterations: 1_000, rounds: 3 },
    { iterations: 3_000, rounds: 3 },
  ],
} as const;

/** A raw memjs `get` of the stored JSON string (no decoding): the floor of any Memcached cache. */
function rawGet(servers: string): BenchCase {
  const keys = makeKeys('raw-memjs', HOT_KEYS);
  let client: memjs.Client | undefined;
  let i = 0;
  return {
    name: BASELINE,
    setup: async () => {
      client = memjs.Client.create(servers, { logger: SILENT });
      const json = JSON.stringify(VALUE);
      for (const key of keys) await client.set(key, json, { expires: TTL_SECONDS });
    },
    op: () => client!.get(keys[i++ & (HOT_KEYS - 1)]!),
    teardown: () => client?.close(),
  };
}

/** Ours, as a deployment with several processes runs it: the distributed lock on. */
export function dogpileOnMemcached(servers: string): Contender {
  const region = makeRegion().configure(
    new MemcachedBackend({
      servers,
      distributedLock: true,
      memcachedExpireTime: TTL_SECONDS * 2,
    }),
    { expirationTime: TTL_SECONDS },
  );
  return {
    name: 'dogpile getOrCreate',
    id: 'dogpile-mc',
    getOrCreate: (key, creator) => region.getOrCreate(key, creator),
    close: () => region.close(),
  };
}

/** cache-manager 7 `wrap` over `@keyv/memcache` (memjs underneath), as its README pairs them. */
export function cacheManagerOnMemcached(servers: string): Contender {
  const cache = createCache({
    ttl: TTL_MS,
    stores: [new Keyv({ store: new KeyvMemcache(servers, { logger: SILENT }) })],
  });
  return {
    name: 'cache-manager wrap (@keyv/memcache)',
    id: 'cm-mc',
    getOrCreate: (key, creator) => cache.wrap(key, creator),
    close: () => cache.disconnect(),
  };
}

/** The Memcached hit path with `inFlight` calls outstanding (1: latency; 64: throughput). */
export async function memcachedHit(
  servers: string,
  inFlight: number,
  options: RunOptions,
): Promise<TimingGroup> {
  const ours = dogpileOnMemcached(servers);
  const peer = cacheManagerOnMemcached(servers);
  try {
    const results = await runInterleaved([rawGet(servers), hitCase(ours), hitCase(peer)], {
      ...options,
      inFlight,
    });
    return {
      kind: 'timing',
      title: `Memcached hit path (warm key, ${inFlight} in flight${inFlight === 1 ? ': latency' : ': ns/op = wall time / ops'})`,
      baseline: BASELINE,
      reference: ours.name,
      results,
      notApplicable: [],
    };
  } catch (error) {
    await ours.close().catch(() => {});
    await peer.close().catch(() => {});
    throw error;
  }
}
