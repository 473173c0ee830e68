import { type CacheBackend, type CacheRegion, type Clock, makeRegion } from '@dogpile/core';
import { describe, expect, it, type TestContext } from 'vitest';
import { expectMiss } from './checks.js';
import { type Resolved, resolveOptions, TestScope } from './harness.js';
import type { ConformanceOptions } from './options.js';
import { gate, sleep, track, waitFor, withDeadline } from './timing.js';

/**
 * Region time that can be moved forward, so expiry is tested without sleeping. It runs with the
 * wall clock plus an offset: backends see real time (lock TTLs), the region sees later times.
 */
function movableClock(): { clock: Clock; advance(seconds: number): void } {
  let offsetMs = 0;
  return {
    clock: { now: () => Date.now() + offsetMs },
    advance(seconds) {
      offsetMs += seconds * 1000;
    },
  };
}

const EXPIRATION = 10;

/**
 * Registers the region suite: the dogpile behaviour of a `CacheRegion` on this backend. One
 * creator per cold key, stale values served during regeneration, expiry, invalidation,
 * `getOrCreateMulti`, nested `getOrCreate`, and a creator that throws.
 */
export function regionSuite(options: ConformanceOptions): void {
  registerRegionSuite(resolveOptions(options));
}

export function registerRegionSuite(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;
  const locks = caps.mutex !== false;
  const callers = Math.max(o.concurrency, 10);

  const setup = async (ctx: TestContext, backend?: CacheBackend) => {
    const scope = new TestScope(o, ctx, 'region');
    const time = movableClock();
    const region = makeRegion({ name: `conformance-${o.name}`, clock: time.clock }).configure(
      backend ?? (await scope.backend()),
      { expirationTime: EXPIRATION },
    );
    return { scope, region, advance: time.advance };
  };

  describe(`${o.name}: region`, () => {
    if (locks && caps.stores) {
      it(
        `${callers} concurrent getOrCreate calls on a cold key run the creator once`,
        async (ctx) => {
          const { scope, region } = await setup(ctx);
          const key = scope.key();
          let calls = 0;
          const creator = async () => {
            calls++;
            await sleep(100);
            return { made: calls };
          };
          const results = await withDeadline(
            Promise.all(Array.from({ length: callers }, () => region.getOrCreate(key, creator))),
            t - 1000,
            'concurrent getOrCreate callers',
          );
          expect(calls, 'creator calls').toBe(1);
          for (const result of results) expect(result).toEqual({ made: 1 });
          expect(
            await region.keyIsLocked(key),
            'the key is still locked after every caller returned',
          ).toBe(false);
        },
        t,
      );
    } else {
      it(
        `${callers} concurrent getOrCreate calls each run their own creator (capabilities: ${
          locks ? 'stores: false' : 'mutex: false'
        })`,
        async (ctx) => {
          const { scope, region } = await setup(ctx);
          const key = scope.key();
          let calls = 0;
          let running = 0;
          let maxRunning = 0;
          const creator = async () => {
            calls++;
            running++;
            maxRunning = Math.max(maxRunning, running);
            await sleep(50);
            running--;
            return calls;
          };
          await withDeadline(
            Promise.all(Array.from({ length: callers }, () => region.getOrCreate(key, creator))),
            t - 1000,
            'concurrent getOrCreate callers',
          );
          expect(calls, 'creator calls').toBe(callers);
          if (!locks)
            expect(maxRunning, 'creators running at once (nobody waits without a mutex)').toBe(
              callers,
            );
        },
        t,
      );
    }

    if (locks && caps.stores && caps.mutex === 'distributed') {
      it(
        'concurrent getOrCreate calls through two backend instances run the creator once in total',
        async (ctx) => {
          const first = await setup(ctx);
          const second = await setup(ctx, await first.scope.backend());
          const key = first.scope.key();
          let calls = 0;
          const creator = async () => {
            calls++;
            await sleep(200);
            return `made ${calls}`;
          };
          const regions = [first.region, second.region];
          const results = await withDeadline(
            Promise.all(
              Array.from({ length: callers }, (_, i) => regions[i % 2]!.getOrCreate(key, creator)),
            ),
            t - 1000,
            'getOrCreate callers on two backend instances',
          );
          expect(calls, 'creator calls over both instances').toBe(1);
          for (const result of results) expect(result).toBe('made 1');
        },
        t,
      );
    }

    if (caps.stores && locks) {
      const staleWhileRegenerating = async (
        region: CacheRegion,
        key: string,
        retire: () => Promise<void>,
      ) => {
        await region.getOrCreate(key, () => 'old');
        await retire();
        const hold = gate();
        let calls = 0;
        const creator = async () => {
          calls++;
          await hold.promise;
          return 'new';
        };
        const pending = Array.from({ length: callers }, () =>
          track(region.getOrCreate(key, creator)),
        );
        try {
          await waitFor(
            () => calls === 1 && pending.filter((p) => p.settled).length === callers - 1,
            `${callers - 1} callers to get the stale value while one regenerates`,
            { timeoutMs: t / 2 },
          );
        } finally {
          hold.open();
        }
        const results = await Promise.all(pending.map((p) => p.promise));
        expect(
          results.filter((value) => value === 'new'),
          'callers that got the new value',
        ).toHaveLength(1);
        expect(
          results.filter((value) => value === 'old'),
          'callers served the stale value',
        ).toHaveLength(callers - 1);
        expect(calls, 'creator calls').toBe(1);
        expect(
          await region.getOrCreate(key, () => 'unexpected'),
          'the regenerated value is stored',
        ).toBe('new');
      };

      it(
        'a stale value is served at once while one caller regenerates it',
        async (ctx) => {
          const { scope, region, advance } = await setup(ctx);
          await staleWhileRegenerating(region, scope.key(), async () => advance(EXPIRATION + 1));
        },
        t,
      );

      it(
        'values expire after expirationTime; ignoreExpiration still reads them; delete removes them',
        async (ctx) => {
          const { scope, region, advance } = await setup(ctx);
          const key = scope.key();
          expect(await region.getOrCreate(key, () => 'v1')).toBe('v1');
          advance(EXPIRATION / 2);
          expect(await region.getOrCreate(key, () => 'unexpected'), 'a fresh value').toBe('v1');
          expect(await region.get(key)).toBe('v1');
          advance(EXPIRATION / 2 + 1);
          expectMiss(await region.get(key), 'region.get of an expired value');
          expect(
            await region.get(key, { ignoreExpiration: true }),
            'get with ignoreExpiration',
          ).toBe('v1');
          expect(await region.getOrCreate(key, () => 'v2'), 'getOrCreate of an expired value').toBe(
            'v2',
          );
          expect(await region.get(key)).toBe('v2');
          await region.delete(key);
          expectMiss(await region.get(key, { ignoreExpiration: true }), 'region.get after delete');
        },
        t,
      );

      it(
        'hard invalidation turns values into misses',
        async (ctx) => {
          const { scope, region, advance } = await setup(ctx);
          const [a, b] = [scope.key('a'), scope.key('b')];
          await region.setMulti(
            new Map([
              [a, 'A'],
              [b, 'B'],
            ]),
          );
          advance(0.01);
          await region.invalidate();
          expectMiss(await region.get(a), 'region.get after a hard invalidation');
          for (const value of await region.getMulti([a, b]))
            expectMiss(value, 'region.getMulti after a hard invalidation');
          let calls = 0;
          expect(
            await region.getOrCreate(a, () => {
              calls++;
              return 'A2';
            }),
          ).toBe('A2');
          expect(calls, 'getOrCreate after a hard invalidation creates').toBe(1);
          expect(await region.get(a)).toBe('A2');
        },
        t,
      );

      it(
        'soft invalidation serves the old value while one caller regenerates it',
        async (ctx) => {
          const { scope, region, advance } = await setup(ctx);
          await staleWhileRegenerating(region, scope.key(), async () => {
            advance(0.01);
            await region.invalidate({ hard: false });
          });
        },
        t,
      );
    }

    if (caps.stores) {
      it(
        'getOrCreateMulti creates only the missing keys, in one call, and keeps the order asked',
        async (ctx) => {
          const { scope, region } = await setup(ctx);
          const [a, b, c] = [scope.key('a'), scope.key('b'), scope.key('c')];
          await region.set(b, 'stored b');
          const asked: string[][] = [];
          const creator = (...keys: string[]) => {
            asked.push(keys);
            return keys.map((key) => `made ${key}`);
          };
          const result = await region.getOrCreateMulti([c, a, b, a], creator);
          expect(asked, 'the creator gets the missing keys once each, sorted').toEqual([[a, c]]);
          expect(result).toEqual([`made ${c}`, `made ${a}`, 'stored b', `made ${a}`]);
          expect(await region.getMulti([a, b, c])).toEqual([`made ${a}`, 'stored b', `made ${c}`]);
          expect(await region.getOrCreateMulti([b, c], creator)).toEqual(['stored b', `made ${c}`]);
          expect(asked, 'a second call with every key present creates nothing').toHaveLength(1);
          expect(await region.getOrCreateMulti([], creator)).toEqual([]);
        },
        t,
      );
    } else {
      it(
        'getOrCreateMulti creates every key, in one call, and keeps the order asked',
        async (ctx) => {
          const { scope, region } = await setup(ctx);
          const [a, b] = [scope.key('a'), scope.key('b')];
          const asked: string[][] = [];
          const result = await region.getOrCreateMulti([b, a, b], (...keys: string[]) => {
            asked.push(keys);
            return keys.map((key) => `made ${key}`);
          });
          expect(asked).toEqual([[a, b]]);
          expect(result).toEqual([`made ${b}`, `made ${a}`, `made ${b}`]);
        },
        t,
      );
    }

    it(
      'concurrent getOrCreateMulti calls over the same keys in opposite orders do not deadlock',
      async (ctx) => {
        const { scope, region } = await setup(ctx);
        const keys = ['a', 'b', 'c', 'd'].map((name) => scope.key(name));
        const creator = async (...asked: string[]) => {
          await sleep(30);
          return asked.map((key) => `made ${key}`);
        };
        const orders = [keys, [...keys].reverse(), [keys[2]!, keys[0]!, keys[3]!, keys[1]!]];
        const results = await withDeadline(
          Promise.all(orders.map((order) => region.getOrCreateMulti(order, creator))),
          t - 1000,
          'overlapping getOrCreateMulti calls (deadlock?)',
        );
        results.forEach((result, i) => {
          expect(result).toEqual(orders[i]!.map((key) => `made ${key}`));
        });
      },
      t,
    );

    it(
      'a getOrCreate on another key inside a creator does not deadlock',
      async (ctx) => {
        const { scope, region } = await setup(ctx);
        const [outer, inner] = [scope.key('outer'), scope.key('inner')];
        const nested = () =>
          region.getOrCreate(
            outer,
            async () => `outer(${await region.getOrCreate(inner, async () => 'inner')})`,
          );
        const results = await withDeadline(
          Promise.all(Array.from({ length: 4 }, nested)),
          t - 1000,
          'getOrCreate nested in a creator (deadlock?)',
        );
        for (const result of results) expect(result).toBe('outer(inner)');
        if (caps.stores) expect(await region.get(inner)).toBe('inner');
      },
      t,
    );

    it(
      'a creator that throws releases the lock; the error reaches its caller and the next caller creates',
      async (ctx) => {
        const { scope, region } = await setup(ctx);
        const key = scope.key();
        const failure = new Error('creator failed on purpose');
        let calls = 0;
        const creator = async () => {
          const call = ++calls;
          await sleep(30);
          if (call === 1) throw failure;
          return 'recovered';
        };
        const outcomes = await withDeadline(
          Promise.allSettled(Array.from({ length: 5 }, () => region.getOrCreate(key, creator))),
          t - 1000,
          'callers after a creator threw (lock not released?)',
        );
        const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(rejected, 'callers that got an error').toHaveLength(1);
        expect((rejected[0] as PromiseRejectedResult).reason, 'the error the creator threw').toBe(
          failure,
        );
        for (const outcome of outcomes) {
          if (outcome.status === 'fulfilled') expect(outcome.value).toBe('recovered');
        }
        if (locks && caps.stores)
          expect(calls, 'creator calls: the failed one and one that succeeded').toBe(2);
        expect(await region.keyIsLocked(key), 'the key is still locked').toBe(false);
        expect(await region.getOrCreate(key, () => 'recovered'), 'a later caller').toBe(
          'recovered',
        );
      },
      t,
    );
  });
}
