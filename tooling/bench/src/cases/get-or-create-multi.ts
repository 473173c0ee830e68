import { makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { makeKeys, TTL_SECONDS, VALUE } from '../fixtures.js';
import type { TimingGroup } from '../groups.js';
import { type CaseResult, median } from '../harness.js';

export interface MultiOptions {
  /** Keys per `getOrCreateMulti` call. */
  sizes: readonly number[];
  /** Keys each case reads per round: a round is `keysPerRound / size` calls. */
  keysPerRound: number;
  rounds: number;
  onProgress?: (message: string) => void;
}

type Mode = 'warm' | 'cold';

/**
 * One case: `prepare` (untimed) returns the round's calls, each run and awaited in turn; `done`
 * (untimed) closes what the round opened.
 */
interface MultiCase {
  name: string;
  size: number;
  baseline: string;
  prepare: (calls: number) => Promise<Array<() => Promise<unknown>>>;
  done?: () => Promise<void>;
}

function neverCalled(): never {
  throw new Error('a warm getOrCreateMulti must not run the creator');
}

const create = async (...missing: string[]) => missing.map(() => VALUE);

/** A fresh region on an empty, unbounded MemoryBackend (as the README shows it). */
const freshRegion = () =>
  makeRegion().configure(new MemoryBackend(), { expirationTime: TTL_SECONDS });

function cases(mode: Mode, size: number): MultiCase[] {
  const n = size.toLocaleString('en-US');
  const baseline =
    mode === 'warm' ? `${n} Map.get, awaited once` : `cache-aside on a Map, ${n} keys`;
  if (mode === 'warm') {
    const keys = makeKeys(`multi-${size}`, size);
    const map = new Map<string, unknown>(keys.map((k) => [k, VALUE]));
    let region: ReturnType<typeof freshRegion> | undefined;
    return [
      {
        name: baseline,
        size,
        baseline,
        prepare: async (calls) =>
          Array.from({ length: calls }, () => async () => keys.map((k) => map.get(k))),
      },
      {
        name: `dogpile getOrCreateMulti, ${n} keys`,
        size,
        baseline,
        prepare: async (calls) => {
          const current = freshRegion();
          region = current;
          await current.getOrCreateMulti(keys, create);
          return Array.from({ length: calls }, () => async () => {
            const values = await current.getOrCreateMulti(keys, neverCalled);
            if (values.length !== size) throw new Error('getOrCreateMulti lost values');
          });
        },
        done: async () => {
          await region?.close();
          region = undefined;
        },
      },
    ];
  }
  // Cold: every call asks for keys never seen, on a store emptied each round (untimed).
  let generation = 0;
  let region: ReturnType<typeof freshRegion> | undefined;
  const coldKeys = (prefix: string, calls: number) =>
    Array.from({ length: calls }, () => makeKeys(`${prefix}-${size}-${generation++}`, size));
  return [
    {
      name: baseline,
      size,
      baseline,
      prepare: async (calls) => {
        const map = new Map<string, unknown>();
        return coldKeys('aside', calls).map((keys) => async () => {
          const missing = keys.filter((k) => map.get(k) === undefined);
          const created = await create(...missing);
          for (const [i, k] of missing.entries()) map.set(k, created[i]);
          return keys.map((k) => map.get(k));
        });
      },
    },
    {
      name: `dogpile getOrCreateMulti, ${n} keys`,
      size,
      baseline,
      prepare: async (calls) => {
        await region?.close();
        region = freshRegion();
        const current = region;
        return coldKeys('dogpile', calls).map((keys) => async () => {
          const values = await current.getOrCreateMulti(keys, create);
          if (values.length !== size) throw new Error('getOrCreateMulti lost values');
        });
      },
      done: async () => {
        await region?.close();
        region = undefined;
      },
    },
  ];
}

/**
 * `getOrCreateMulti` on the memory store over 10, 1,000 and 10,000 keys a call, in ns per key:
 * warm (every key a hit) against `Map.get` of each key awaited once, and cold (every key a
 * miss, one creator call for all of them) against cache-aside on a Map (get each, one awaited
 * creator for the missing, set each). Every case reads the same number of keys per round;
 * cases take turns round by round; one untimed round first.
 */
export async function getOrCreateMulti(mode: Mode, options: MultiOptions): Promise<TimingGroup> {
  const all = options.sizes.flatMap((size) => cases(mode, size));
  const rounds = new Map<string, number[]>(all.map((c) => [c.name, []]));
  for (let round = -1; round < options.rounds; round++) {
    for (const c of all) {
      const calls = Math.max(1, Math.floor(options.keysPerRound / c.size));
      const ops = await c.prepare(calls);
      const start = process.hrtime.bigint();
      for (const op of ops) await op();
      const ns = Number(process.hrtime.bigint() - start) / (calls * c.size);
      await c.done?.();
      if (round >= 0) rounds.get(c.name)!.push(ns);
    }
    if (round >= 0) options.onProgress?.(`round ${round + 1}/${options.rounds}`);
  }
  const results: CaseResult[] = all.map((c) => ({
    name: c.name,
    nsPerOp: median(rounds.get(c.name)!),
    rounds: rounds.get(c.name)!,
    baseline: c.baseline,
    reference: all.find((d) => d.size === c.size && d.name.startsWith('dogpile'))!.name,
  }));
  return {
    kind: 'timing',
    title:
      mode === 'warm'
        ? 'getOrCreateMulti, memory, warm (every key a hit), ns per key'
        : 'getOrCreateMulti, memory, cold (every key a miss, one creator call), ns per key',
    baseline: all[0]!.name,
    reference: all[1]!.name,
    results,
    notApplicable: [],
    unit: 'ns/key',
  };
}
