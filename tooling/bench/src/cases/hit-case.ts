import { HOT_KEYS, makeKeys, neverCalled, VALUE } from '../fixtures.js';
import type { BenchCase } from '../harness.js';
import type { Contender } from '../peers/contender.js';

/**
 * The hit path of a contender: its read-through call on warm keys, cycling over HOT_KEYS of
 * them. The keys are seeded through the same call (so each library stores them its own way),
 * and the creator passed while timing throws, so a miss cannot pass for a hit.
 */
export function hitCase(contender: Contender): BenchCase {
  const keys = makeKeys(contender.id, HOT_KEYS);
  const seed = () => Promise.resolve(VALUE);
  let i = 0;
  return {
    name: contender.name,
    setup: async () => {
      for (const key of keys) await contender.getOrCreate(key, seed);
    },
    op: () => contender.getOrCreate(keys[i++ & (HOT_KEYS - 1)]!, neverCalled),
    teardown: () => contender.close(),
  };
}
