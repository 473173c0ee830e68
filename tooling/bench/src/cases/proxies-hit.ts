import { randomBytes } from 'node:crypto';
import { type CacheBackend, makeRegion, type ProxyBackend } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import {
  CircuitBreakerProxy,
  CompressionProxy,
  EncryptionProxy,
  LoggingProxy,
  NamespaceProxy,
  StatsProxy,
  TieredProxy,
  TimeoutProxy,
} from '@dogpile/proxies';
import { RedisBackend } from '@dogpile/redis';
import { HOT_KEYS, makeKeys, neverCalled, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';
import { RAW_REDIS_GET, rawGet } from './redis-hit.js';

const PLAIN_MEMORY = 'plain MemoryBackend';
const PLAIN_REDIS = 'plain RedisBackend';
const quiet = { debug() {}, warn() {} };

/** A region's `getOrCreate` hit on warm keys, the backend wrapped in `wrap` (outermost first). */
function regionHit(name: string, make: () => CacheBackend, wrap: () => ProxyBackend[]): BenchCase {
  const keys = makeKeys(`proxies-${name.replace(/\W+/g, '-')}`, HOT_KEYS);
  const seed = () => Promise.resolve(VALUE);
  let region: ReturnType<typeof makeRegion> | undefined;
  let i = 0;
  return {
    name,
    setup: async () => {
      region = makeRegion({ name }).configure(make(), {
        expirationTime: TTL_SECONDS,
        wrap: wrap(),
      });
      for (const key of keys) await region.getOrCreate(key, seed);
    },
    op: () => region!.getOrCreate(keys[i++ & (HOT_KEYS - 1)]!, neverCalled),
    teardown: async () => {
      await region?.close();
    },
  };
}

/**
 * Each proxy's cost on the in-process hit path: a region's `getOrCreate` of a warm key over a
 * `MemoryBackend`, plain and behind each proxy alone; the tiered case is an L1 hit in front of a
 * `MemoryBackend` L2. Compression and encryption store bytes, so their figure includes
 * decoding the value on every hit (a `MemoryBackend` of objects hands out references).
 */
export async function proxiesMemoryHit(options: RunOptions): Promise<TimingGroup> {
  const key = randomBytes(32);
  const memory = () => new MemoryBackend();
  const results = await runInterleaved(
    [
      regionHit(PLAIN_MEMORY, memory, () => []),
      regionHit('TieredProxy (L1 hit)', memory, () => [new TieredProxy()]),
      regionHit('NamespaceProxy', memory, () => [new NamespaceProxy({ namespace: 'ns:' })]),
      regionHit('TimeoutProxy', memory, () => [new TimeoutProxy({ timeout: 1 })]),
      regionHit('CircuitBreakerProxy', memory, () => [new CircuitBreakerProxy()]),
      regionHit('LoggingProxy (no-op logger)', memory, () => [new LoggingProxy({ logger: quiet })]),
      regionHit('StatsProxy', memory, () => [new StatsProxy()]),
      regionHit('CompressionProxy (value under threshold)', memory, () => [new CompressionProxy()]),
      regionHit('EncryptionProxy', memory, () => [new EncryptionProxy({ keys: { k: key } })]),
    ],
    options,
  );
  return {
    kind: 'timing',
    title: 'Proxies on the memory hit path (warm key, getOrCreate, one awaited call at a time)',
    baseline: PLAIN_MEMORY,
    reference: PLAIN_MEMORY,
    results,
    notApplicable: [],
  };
}

/**
 * The tiered read that misses L1 and hits L2 (an L1 of one entry, cycling over 1,024 keys)
 * against the same read on a plain `RedisBackend`, one call in flight, and both against the
 * raw baseline, a raw ioredis `GET` of the JSON string.
 */
export async function proxiesRedisHit(url: string, options: RunOptions): Promise<TimingGroup> {
  const redis = () => new RedisBackend({ url, distributedLock: true });
  const results = await runInterleaved(
    [
      rawGet(url, RAW_REDIS_GET, false),
      regionHit(PLAIN_REDIS, redis, () => []),
      regionHit('TieredProxy (L1 miss, L2 hit)', redis, () => [
        new TieredProxy({ l1MaxEntries: 1 }),
      ]),
      regionHit('TieredProxy (L1 hit)', redis, () => [new TieredProxy()]),
    ],
    options,
  );
  return {
    kind: 'timing',
    title: 'Tiered L1/L2 over Redis (warm key, getOrCreate, 1 in flight)',
    baseline: RAW_REDIS_GET,
    reference: PLAIN_REDIS,
    results,
    notApplicable: [],
  };
}
