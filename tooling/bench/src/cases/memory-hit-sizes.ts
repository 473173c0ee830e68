import { makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { makeKeys, neverCalled, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type BenchCase, type RunOptions, runInterleaved } from '../harness.js';

export interface SizesOptions extends RunOptions {
  /** Key set sizes, one baseline and one dogpile case each. */
  sizes: readonly number[];
}

/** Length of the random read order every case cycles through (a power of two: masked). */
const ORDER = 1 << 20;

const SEED_CHUNK = 10_000;

/** ORDER indexes drawn uniformly from [0, size), by a fixed-seed xorshift (same for all runs). */
function randomOrder(size: number): Uint32Array {
  const order = new Uint32Array(ORDER);
  let x = 0x9e3779b9;
  for (let i = 0; i < ORDER; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    order[i] = (x >>> 0) % size;
  }
  return order;
}

/**
 * The memory hit path over key sets of different sizes (1k, 1M), each read in random order, so
 * that a large set also pays for cache misses of the CPU: dogpile's `getOrCreate` on a region
 * holding every key against an awaited `Map.get` on a Map of the same keys, same order.
 */
export async function memoryHitSizes(options: SizesOptions): Promise<TimingGroup> {
  const cases: BenchCase[] = [];
  const baselines: string[] = [];
  const ours: string[] = [];
  for (const size of options.sizes) {
    const n = size.toLocaleString('en-US');
    const keys = makeKeys(`sized-${size}`, size);
    const order = randomOrder(size);
    const map = new Map<string, unknown>();
    let i = 0;
    baselines.push(`awaited Map.get, ${n} keys`);
    cases.push({
      name: baselines.at(-1)!,
      setup: () => {
        for (const key of keys) map.set(key, VALUE);
      },
      op: () => map.get(keys[order[i++ & (ORDER - 1)]!]!),
      teardown: () => map.clear(),
    });
    // As peers/dogpile.ts configures it; seeded with setMulti, 10,000 keys a call (a miss
    // through getOrCreate costs several microseconds: 1M of them would dominate the run).
    const region = makeRegion().configure(new MemoryBackend(), { expirationTime: TTL_SECONDS });
    let j = 0;
    ours.push(`dogpile getOrCreate, ${n} keys`);
    cases.push({
      name: ours.at(-1)!,
      setup: async () => {
        for (let k = 0; k < size; k += SEED_CHUNK) {
          await region.setMulti(new Map(keys.slice(k, k + SEED_CHUNK).map((key) => [key, VALUE])));
        }
      },
      op: () => region.getOrCreate(keys[order[j++ & (ORDER - 1)]!]!, neverCalled),
      teardown: () => region.close(),
    });
  }
  const results = await runInterleaved(cases, options);
  for (const [k, r] of results.entries()) {
    r.baseline = baselines[k >> 1];
    r.reference = ours[k >> 1];
  }
  return {
    kind: 'timing',
    title: `Memory hit path by key set size (${options.sizes.map((n) => n.toLocaleString('en-US')).join(' / ')} keys, random order, one awaited call at a time)`,
    baseline: baselines[0]!,
    reference: ours[0]!,
    results,
    notApplicable: [],
  };
}
