import { HOT_KEYS, makeKeys, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type RunOptions, runInterleaved } from '../harness.js';
import { bentocache, bentocacheReferences } from '../peers/bentocache.js';
import { CONTENDERS, closeAll, contendersOn } from '../peers/index.js';
import { hitCase } from './hit-case.js';

const BASELINE = 'awaited Map.get';

/**
 * The in-process hit path: each library's read-through call on 1,024 warm keys, one awaited call
 * at a time, beside the floor any async cache pays: an awaited `Map.get`.
 */
export async function memoryHit(options: RunOptions): Promise<TimingGroup> {
  // bentocache's like-for-like variant (references, as dogpile stores them) next to its default.
  const factories = CONTENDERS.flatMap((f) => (f === bentocache ? [f, bentocacheReferences] : [f]));
  const { contenders, notApplicable } = await contendersOn({ kind: 'memory' }, factories);
  const keys = makeKeys('map', HOT_KEYS);
  const map = new Map<string, unknown>(keys.map((k) => [k, VALUE]));
  let i = 0;
  try {
    const results = await runInterleaved(
      [
        { name: BASELINE, op: () => map.get(keys[i++ & (HOT_KEYS - 1)]!) },
        ...contenders.map(hitCase),
      ],
      options,
    );
    return {
      kind: 'timing',
      title: 'Memory hit path (warm key, one awaited call at a time)',
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
