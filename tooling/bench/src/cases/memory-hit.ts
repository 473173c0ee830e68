import { makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import type { BenchCase } from '../harness.js';

const KEYS = 1024;

/**
 * The hit path of `getOrCreate` on `MemoryBackend`, beside the floor any async cache pays: an
 * awaited `Map.get`. Both cycle over the same 1,024 warm keys.
 */
export function memoryHitCases(): BenchCase[] {
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`);
  const map = new Map<string, unknown>(keys.map((k) => [k, { id: k }]));
  const region = makeRegion().configure(new MemoryBackend(), { expirationTime: 3600 });
  const creator = () => ({ id: 'never' });
  let i = 0;
  let j = 0;
  return [
    {
      name: 'awaited Map.get',
      op: () => map.get(keys[i++ & (KEYS - 1)]!),
    },
    {
      name: 'dogpile getOrCreate (memory, hit)',
      setup: async () => {
        for (const k of keys) await region.set(k, { id: k });
      },
      op: () => region.getOrCreate(keys[j++ & (KEYS - 1)]!, creator),
      teardown: () => region.close(),
    },
  ];
}
