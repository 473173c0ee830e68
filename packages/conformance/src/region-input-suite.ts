import { type CacheRegion, makeRegion, sha1MangleKey, ValidationError } from '@dogpile/core';
import { describe, expect, it, type TestContext } from 'vitest';
import { type Resolved, resolveOptions, TestScope } from './harness.js';
import type { ConformanceOptions } from './options.js';
import { withDeadline } from './timing.js';

/** Per-call options of `getOrCreate` with a value of the wrong kind, each. */
const BAD_CALL_OPTIONS: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['expirationTime', { expirationTime: 'soon' }],
  ['lockWaitTimeout', { lockWaitTimeout: 'a while' }],
  ['onLockTimeout', { onLockTimeout: 'retry' }],
  ['signal', { signal: 'stop' }],
  ['failSafe', { failSafe: 'yes' }],
  ['staleIfError', { staleIfError: -5 }],
  ['backgroundRefresh', { backgroundRefresh: 'yes' }],
  ['earlyRefresh', { earlyRefresh: { beta: -1 } }],
  ['shouldCacheFn', { shouldCacheFn: 'always' }],
  ['creatorArgs', { creatorArgs: 'abc' }],
];

/** Keys of the wrong type: each must be refused, never coerced into another key's string. */
const NON_STRING_KEYS: ReadonlyArray<readonly [string, unknown]> = [
  ['the number 1', 1],
  ['null', null],
  ['undefined', undefined],
  ['an object', { a: 1 }],
  ['a Symbol', Symbol('k')],
  ['an array', ['k']],
];

/** Strings with lone surrogates: UTF-8 cannot encode them, so they would collide in a store. */
const ILL_FORMED_KEYS: readonly string[] = ['x\uD800', 'x\uDBFF', '\uDC00x', 'a\uD800\uD800b'];

/** Every entry point that takes keys, called with `key`. */
function entryPoints(region: CacheRegion, key: unknown): Array<readonly [string, () => unknown]> {
  const k = key as string;
  return [
    ['get', () => region.get(k)],
    ['getValueMetadata', () => region.getValueMetadata(k)],
    ['getMulti', () => region.getMulti([k])],
    ['set', () => region.set(k, 1)],
    ['setMulti (Map)', () => region.setMulti(new Map([[k, 1]]))],
    ['delete', () => region.delete(k)],
    ['deleteMulti', () => region.deleteMulti([k])],
    ['getOrCreate', () => region.getOrCreate(k, () => 1)],
    ['getOrCreateMulti', () => region.getOrCreateMulti([k], () => [1])],
    ['keyIsLocked', () => region.keyIsLocked(k)],
  ];
}

/** The rejection of `call`, synchronous or not; fails when it resolves. */
async function rejection(call: () => unknown, what: string): Promise<unknown> {
  try {
    await withDeadline(Promise.resolve().then(call), 5000, what);
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: resolved, but the input must be refused with a ValidationError.`);
}

/**
 * Registers the region input suite: bad input is refused with a `ValidationError` at every entry
 * point, and never leaves a key locked. Keys must be well-formed strings, whether or not a key
 * mangler is set; a bad per-call option is refused before any lock is taken.
 */
export function regionInputSuite(options: ConformanceOptions): void {
  registerRegionInputSuite(resolveOptions(options));
}

export function registerRegionInputSuite(o: Resolved): void {
  const t = o.timeoutMs;

  const setup = async (ctx: TestContext, mangled: boolean) => {
    const scope = new TestScope(o, ctx, 'input');
    const region = makeRegion({
      name: 'conformance-input',
      ...(mangled ? { keyMangler: sha1MangleKey } : {}),
    }).configure(await scope.backend(), { expirationTime: 60 });
    return { scope, region };
  };

  describe(`${o.name}: bad input`, () => {
    it(
      'a bad per-call option is refused with a ValidationError and never wedges the key',
      async (ctx) => {
        const { scope, region } = await setup(ctx, false);
        const key = scope.key();
        for (const [name, options] of BAD_CALL_OPTIONS) {
          const error = await rejection(
            () => region.getOrCreate(key, () => 'created', options as never),
            `getOrCreate with a bad ${name}`,
          );
          expect(error, `getOrCreate with a bad ${name}`).toBeInstanceOf(ValidationError);
          expect(region.lockedKeyCount, `keys left locked after a bad ${name}`).toBe(0);
          // The same key, right after: it must settle, not wait on a lock nobody will release.
          const value = await withDeadline(
            region.getOrCreate(key, () => 'created'),
            5000,
            `a valid getOrCreate after one with a bad ${name} (the key is wedged)`,
          );
          expect(value).toBe('created');
          await region.delete(key);
        }
        expect(region.lockedKeyCount).toBe(0);
      },
      t,
    );

    for (const mangled of [false, true]) {
      const how = mangled ? 'with a key mangler' : 'without a key mangler';
      it(
        `keys that are not strings are refused at every entry point, ${how}`,
        async (ctx) => {
          const { region } = await setup(ctx, mangled);
          for (const [name, key] of NON_STRING_KEYS) {
            for (const [method, call] of entryPoints(region, key)) {
              const error = await rejection(call, `${method} with ${name} as the key`);
              expect(error, `${method} with ${name} as the key`).toBeInstanceOf(ValidationError);
            }
          }
          expect(region.lockedKeyCount).toBe(0);
        },
        t,
      );

      it(
        `keys with lone surrogates are refused at every entry point, ${how}`,
        async (ctx) => {
          const { scope, region } = await setup(ctx, mangled);
          for (const key of ILL_FORMED_KEYS) {
            for (const [method, call] of entryPoints(region, key)) {
              const what = `${method} with the ill-formed key ${JSON.stringify(key)}`;
              const error = await rejection(call, what);
              expect(error, what).toBeInstanceOf(ValidationError);
              expect(String((error as Error).message), what).toMatch(/well-formed|surrogate/i);
            }
          }
          // The same text without the lone surrogate is an ordinary key.
          const fine = `${scope.key()}x\uFFFD`;
          expect(await region.getOrCreate(fine, () => 'fine')).toBe('fine');
          await region.delete(fine);
        },
        t,
      );
    }
  });
}
