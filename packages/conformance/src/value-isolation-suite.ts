import { jsonSerializer, makeRegion, type Serializer, v8Serializer } from '@dogpile/core';
import { describe, expect, it, type TestContext } from 'vitest';
import { type Resolved, resolveOptions, TestScope } from './harness.js';
import type { ConformanceOptions } from './options.js';
import { sleep, withDeadline } from './timing.js';

interface Case {
  name: string;
  serializer: Serializer;
  /** A fresh payload, equal every time it is called. */
  make(): unknown;
  /** Writes into every part of a payload a caller got. */
  mutate(value: unknown): void;
}

const CASES: readonly Case[] = [
  {
    name: 'jsonSerializer',
    serializer: jsonSerializer,
    make: () => ({ list: [1, 2, 3], nested: { n: 1 }, text: 'abc' }),
    mutate(value) {
      const v = value as { list: number[]; nested: { n: number }; text: string };
      v.list[0] = 99;
      v.list.push(4);
      v.nested.n = 2;
      v.text = 'changed';
    },
  },
  {
    name: 'v8Serializer',
    serializer: v8Serializer,
    make: () => ({
      u8: Uint8Array.of(1, 2, 3, 4),
      f64: Float64Array.of(1.5, 2.5),
      buf: Buffer.from('abcd'),
      map: new Map([['k', { n: 1 }]]),
    }),
    mutate(value) {
      const v = value as {
        u8: Uint8Array;
        f64: Float64Array;
        buf: Uint8Array;
        map: Map<string, { n: number }>;
      };
      v.u8[0] = 99;
      v.f64[0] = -1;
      v.buf[0] = 0;
      v.map.get('k')!.n = 2;
    },
  },
];

/**
 * Registers the value isolation suite, for backends that store bytes: no caller ever sees
 * another caller's mutation of a value it got, whether the callers read one after another,
 * shared one read, or got the value a creator handed them; with both serializers of core
 * (`node:v8` returns typed arrays that may be views into the bytes it read).
 */
export function valueIsolationSuite(options: ConformanceOptions): void {
  registerValueIsolationSuite(resolveOptions(options));
}

export function registerValueIsolationSuite(o: Resolved): void {
  const t = o.timeoutMs;
  const applies = o.caps.serialized && o.caps.stores;

  describe(`${o.name}: value isolation`, () => {
    if (!applies) {
      it.skip(`not applicable: capabilities say ${o.caps.stores ? 'serialized: false' : 'stores: false'}`, () => {});
      return;
    }

    const setup = async (ctx: TestContext, serializer: Serializer) => {
      const scope = new TestScope(o, ctx, 'isolation');
      const region = makeRegion({ name: 'conformance-isolation', serializer }).configure(
        await scope.backend(),
        { expirationTime: 3600 },
      );
      return { scope, region };
    };

    for (const c of CASES) {
      it(
        `${c.name}: a caller mutating its value changes nothing for later callers`,
        async (ctx) => {
          const { scope, region } = await setup(ctx, c.serializer);
          const key = scope.key();
          await region.set(key, c.make());
          for (const read of [() => region.get(key), () => region.getOrCreate(key, c.make)]) {
            const first = await read();
            c.mutate(first);
            expect(await read(), 'a value read after another caller mutated its own copy').toEqual(
              c.make(),
            );
          }
          const [viaMulti] = await region.getMulti([key]);
          c.mutate(viaMulti);
          expect(
            await region.get(key),
            'a value read after a getMulti caller mutated its copy',
          ).toEqual(c.make());
        },
        t,
      );

      it(
        `${c.name}: concurrent callers sharing one read or one creation never share memory`,
        async (ctx) => {
          const { scope, region } = await setup(ctx, c.serializer);
          const warm = scope.key('warm');
          await region.set(warm, c.make());
          const cold = scope.key('cold');
          const creator = async () => {
            await sleep(50);
            return c.make();
          };
          for (const key of [warm, cold]) {
            const results = await withDeadline(
              Promise.all(Array.from({ length: 8 }, () => region.getOrCreate(key, creator))),
              t - 1000,
              'concurrent getOrCreate callers',
            );
            // The first caller of the cold key ran the creator and may keep its own object; every
            // other caller must have a copy of its own.
            c.mutate(results[1]);
            for (const [i, result] of results.entries()) {
              if (i === 1) continue;
              expect(
                result,
                `caller ${i} saw caller 1's mutation (${key === warm ? 'shared read' : 'handed creation'})`,
              ).toEqual(c.make());
            }
          }
        },
        t,
      );
    }
  });
}
