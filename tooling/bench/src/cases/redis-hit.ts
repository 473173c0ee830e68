import { Redis } from 'ioredis';
import { HOT_KEYS, makeKeys, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';
import { dogpileUnpipelined } from '../peers/dogpile.js';
import { CONTENDERS, closeAll, contendersOn } from '../peers/index.js';
import { hitCase } from './hit-case.js';

export const RAW_REDIS_GET = 'raw ioredis GET';
const BASELINE = RAW_REDIS_GET;

/**
 * A raw ioredis `GET` of the stored JSON string (no decoding): the floor of any Redis cache.
 * Both a default client, the baseline, and an auto-pipelined one, since dogpile's backend
 * enables auto-pipelining and at 64 in flight that alone moves the figures.
 */
export function rawGet(url: string, name: string, autoPipelining: boolean): BenchCase {
  const keys = makeKeys(autoPipelining ? 'raw-ap' : 'raw', HOT_KEYS);
  // Connected in setup, so a case that never ran leaves no connection to close.
  let client: Redis | undefined;
  let i = 0;
  return {
    name,
    setup: async () => {
      client = new Redis(url, { enableAutoPipelining: autoPipelining });
      const json = JSON.stringify(VALUE);
      for (const key of keys) await client.set(key, json, 'EX', TTL_SECONDS);
    },
    op: () => client!.get(keys[i++ & (HOT_KEYS - 1)]!),
    teardown: async () => {
      await client?.quit();
    },
  };
}

/** The Redis hit path with `inFlight` calls outstanding (1: latency; 64: throughput). */
export async function redisHit(
  url: string,
  inFlight: number,
  options: RunOptions,
): Promise<TimingGroup> {
  // Ours with batchReads off right after ours, so the two read side by side.
  const [ours, ...peers] = CONTENDERS;
  const { contenders, notApplicable } = await contendersOn({ kind: 'redis', url }, [
    ours!,
    dogpileUnpipelined,
    ...peers,
  ]);
  try {
    const results = await runInterleaved(
      [
        rawGet(url, BASELINE, false),
        rawGet(url, 'raw ioredis GET (auto-pipelined)', true),
        ...contenders.map(hitCase),
      ],
      { ...options, inFlight },
    );
    return {
      kind: 'timing',
      title: `Redis hit path (warm key, ${inFlight} in flight${inFlight === 1 ? ': latency' : ': ns/op = wall time / ops'})`,
      baseline: BASELINE,
      reference: contenders[0]!.name,
      results,
      notApplicable,
    };
  } catch (error) {
    await closeAll(contenders).catch(() => {});
    throw error;
  }
}
