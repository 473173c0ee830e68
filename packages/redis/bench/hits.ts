// getOrCreate hits through RedisBackend against raw ioredis GET, in the same run, on the same
// server, with the same number of requests in flight. Run: pnpm exec tsx bench/hits.ts
import { makeRegion } from '@dogpile/core';
import { startRedis } from '@dogpile/test-servers';
import { Redis, type RedisOptions } from 'ioredis';
import { RedisBackend } from '../src/index.js';

const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 64);
const OPS = Number(process.env.OPS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

/** Runs `op` OPS times with IN_FLIGHT calls outstanding; returns ns per op. */
async function measure(op: () => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < OPS) await op();
    }),
  );
  return Number(process.hrtime.bigint() - started) / OPS;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export interface HitsResult {
  label: string;
  rawNsPerOp: number;
  dogpileNsPerOp: number;
  /** Throughput of getOrCreate relative to raw GET: raw ns/op divided by dogpile ns/op. */
  ratio: number;
}

/**
 * One comparison on one server: raw `GET` on an ioredis client made with `rawOptions`, against
 * `getOrCreate` hits through a RedisBackend given `backendOptions` (on top of its defaults).
 */
export async function benchHits(
  label: string,
  url: string,
  rawOptions: RedisOptions,
  backendOptions: RedisOptions | undefined,
  parse = false,
): Promise<HitsResult> {
  const raw = new Redis(url, rawOptions);
  const backend = new RedisBackend({
    url,
    distributedLock: true,
    ...(backendOptions ? { redisOptions: backendOptions } : {}),
  });
  const region = makeRegion().configure(backend, { expirationTime: 3600 });
  const payload = {
    id: 42,
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    roles: ['admin', 'author'],
  };
  // Distinct warm keys, so that no two of the calls in flight ask for the same key: the region
  // shares a read of one key among concurrent callers, which on a single hot key would measure
  // that sharing rather than the cost of a hit.
  const keys = Array.from({ length: 1024 }, (_, i) => `bench:hit:${i}`);
  for (const key of keys) await region.set(key, payload);
  let i = 0;
  let j = 0;
  const creator = () => {
    throw new Error('a hit must not create');
  };
  // With `parse`, the raw side also decodes what it read, as an application caching JSON would.
  const rawOp = parse
    ? async () => {
        const text = await raw.get(keys[i++ & 1023]!);
        return text === null ? null : JSON.parse(text.slice(text.indexOf('|') + 1));
      }
    : () => raw.get(keys[i++ & 1023]!);
  const dogpileOp = () => region.getOrCreate(keys[j++ & 1023]!, creator);

  // Warm up both paths (JIT, connections), then alternate to share any drift fairly.
  await measure(rawOp);
  await measure(dogpileOp);
  const rawRuns: number[] = [];
  const dogpileRuns: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rawRuns.push(await measure(rawOp));
    dogpileRuns.push(await measure(dogpileOp));
  }
  await region.close();
  await raw.quit();
  const rawNsPerOp = median(rawRuns);
  const dogpileNsPerOp = median(dogpileRuns);
  return { label, rawNsPerOp, dogpileNsPerOp, ratio: rawNsPerOp / dogpileNsPerOp };
}

/** The comparisons the README reports. */
export async function runHits(url: string): Promise<HitsResult[]> {
  return [
    // What a user gets: ioredis as it comes, against the backend as it comes.
    await benchHits('defaults vs defaults', url, {}, undefined),
    // Like for like: both auto-pipelined, so only dogpile's own work differs.
    await benchHits('both auto-pipelined', url, { enableAutoPipelining: true }, undefined),
    // Like for like: neither auto-pipelined (the backend keeps its command timeout).
    await benchHits('neither auto-pipelined', url, {}, { enableAutoPipelining: false }),
    // Like for like, and the raw side JSON.parses the payload it read.
    await benchHits(
      'both auto-pipelined + parse',
      url,
      { enableAutoPipelining: true },
      undefined,
      true,
    ),
  ];
}

export function printHits(result: HitsResult): void {
  console.log(
    `${result.label.padEnd(28)} raw GET ${result.rawNsPerOp.toFixed(0).padStart(6)} ns/op | ` +
      `getOrCreate hit ${result.dogpileNsPerOp.toFixed(0).padStart(6)} ns/op | ratio ${result.ratio.toFixed(3)}x`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startRedis();
  try {
    console.log(
      `getOrCreate hits vs raw ioredis GET: ${IN_FLIGHT} in flight, ${OPS} ops x ${ROUNDS} rounds (median)`,
    );
    for (const result of await runHits(server.url)) printHits(result);
  } finally {
    await server.stop();
  }
}
