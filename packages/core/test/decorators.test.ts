import { describe, expect, it } from 'vitest';
import {
  argToKeyPart,
  type CreationContext,
  functionKeyGenerator,
  functionMultiKeyGenerator,
  makeRegion,
  NO_VALUE,
  type RegionOptions,
  ValidationError,
} from '../src/index.js';
import { ManualClock, MapBackend } from './helpers.js';

function setup(options: RegionOptions = {}, expirationTime?: number) {
  const clock = new ManualClock();
  const backend = new MapBackend();
  const region = makeRegion({ clock, ...options }).configure(
    backend,
    expirationTime === undefined ? {} : { expirationTime },
  );
  return { clock, backend, region };
}

describe('cacheOnArguments (dogpile test_decorator.py)', () => {
  it('caches per arguments under namespace|arg1 arg2, the namespace defaulting to the function name', async () => {
    const { region, backend } = setup();
    const calls: unknown[][] = [];
    const goCached = region.cacheOnArguments()(function go(a: number, b: string) {
      calls.push([a, b]);
      return `${a}${b}`;
    });
    expect(await goCached(1, 'x')).toBe('1x');
    expect(await goCached(1, 'x')).toBe('1x');
    expect(await goCached(2, 'x')).toBe('2x');
    expect(calls).toEqual([
      [1, 'x'],
      [2, 'x'],
    ]);
    expect([...backend.store.keys()]).toEqual(['go|1 x', 'go|2 x']);
    expect(goCached.name).toBe('go');
  });

  it('uses an explicit namespace instead of the name', async () => {
    const { region, backend } = setup();
    const fn = region.cacheOnArguments({ namespace: 'users' })(function load(id: number) {
      return id * 2;
    });
    await fn(4);
    expect([...backend.store.keys()]).toEqual(['users|4']);
  });

  it('an anonymous function without a namespace is a ValidationError', () => {
    const { region } = setup();
    expect(() => region.cacheOnArguments()((x: number) => x)).toThrow(ValidationError);
    expect(() => region.cacheOnArguments({ namespace: 'ok' })((x: number) => x)).not.toThrow();
    expect(() => region.cacheOnArguments()('nope' as never)).toThrow(ValidationError);
  });

  it('keeps `this` and awaits async functions', async () => {
    const { region } = setup();
    const service = {
      factor: 3,
      times: region.cacheOnArguments<number>({ namespace: 'times' })(async function (
        this: { factor: number },
        n: number,
      ) {
        return n * this.factor;
      }),
    };
    expect(await service.times(5)).toBe(15);
  });

  it('.get, .set, .invalidate, .refresh and .original', async () => {
    const { region } = setup();
    let counter = 0;
    const original = function go(a: number, b: number) {
      counter++;
      return `${counter} ${a} ${b}`;
    };
    const goCached = region.cacheOnArguments<string>()(original);
    expect(goCached.original).toBe(original);

    expect(await goCached.get(1, 2)).toBe(NO_VALUE);
    expect(await goCached(1, 2)).toBe('1 1 2');
    expect(await goCached.get(1, 2)).toBe('1 1 2');

    await goCached.set('forced', 1, 2);
    expect(await goCached(1, 2)).toBe('forced');
    expect(counter).toBe(1);

    await goCached.invalidate(1, 2);
    expect(await goCached.get(1, 2)).toBe(NO_VALUE);
    expect(await goCached(1, 2)).toBe('2 1 2');

    // refresh calls the function whatever is cached, and stores the result.
    expect(await goCached.refresh(1, 2)).toBe('3 1 2');
    expect(await goCached(1, 2)).toBe('3 1 2');
    expect(counter).toBe(3);
  });

  it('takes expirationTime as seconds or as a function called on each call', async () => {
    const { region, clock } = setup({}, 1000);
    let expiry = 1;
    let asked = 0;
    let counter = 0;
    const goCached = region.cacheOnArguments({
      expirationTime: () => {
        asked++;
        return expiry;
      },
    })(function go() {
      return ++counter;
    });
    expect(await goCached()).toBe(1);
    clock.advance(1500);
    expect(await goCached()).toBe(2); // 1.5 s > 1 s
    expiry = 5;
    clock.advance(1500);
    expect(await goCached()).toBe(2); // 1.5 s < 5 s
    expect(asked).toBe(3);

    const fixedCached = region.cacheOnArguments<number>({ expirationTime: '1s' })(function fixed() {
      return ++counter;
    });
    const first = await fixedCached();
    clock.advance(999);
    expect(await fixedCached()).toBe(first);
    clock.advance(2);
    expect(await fixedCached()).toBe(first + 1);
  });

  it('returns but does not cache what shouldCacheFn rejects', async () => {
    const { region } = setup();
    const values = [null, 'kept'];
    const goCached = region.cacheOnArguments<string | null>({ shouldCacheFn: (v) => v !== null })(
      function go() {
        return values.shift()!;
      },
    );
    expect(await goCached()).toBeNull();
    expect(await goCached.get()).toBe(NO_VALUE);
    expect(await goCached()).toBe('kept');
    expect(await goCached()).toBe('kept');
  });

  it('uses a custom toStr for every argument', async () => {
    const { region, backend } = setup();
    const goCached = region.cacheOnArguments({ toStr: (arg) => `<${String(arg)}>` })(function go(
      a: unknown,
      b: unknown,
    ) {
      return [a, b];
    });
    await goCached(1, 'b');
    expect([...backend.store.keys()]).toEqual(['go|<1> <b>']);
  });

  it('uses a custom functionKeyGenerator, per function or for the whole region', async () => {
    const perFunction = setup();
    const goCached = perFunction.region.cacheOnArguments({
      functionKeyGenerator:
        (namespace, fn) =>
        (...args) =>
          `${namespace ?? fn.name}:${args.join('/')}`,
    })(function go(a: number, b: number) {
      return a + b;
    });
    await goCached(1, 2);
    expect([...perFunction.backend.store.keys()]).toEqual(['go:1/2']);

    const regionWide = setup({
      functionKeyGenerator:
        (_namespace, fn) =>
        (...args) =>
          `custom-${fn.name}-${args.length}`,
    });
    const addCached = regionWide.region.cacheOnArguments()(function add(a: number, b: number) {
      return a + b;
    });
    await addCached(1, 2);
    expect([...regionWide.backend.store.keys()]).toEqual(['custom-add-2']);
  });
});

describe('cacheOnArguments withContext', () => {
  it('passes the creator context after the arguments, keyed on the arguments alone', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    const seen: Array<{ args: unknown[]; key: string }> = [];
    const load = region.cacheOnArguments({ withContext: true, namespace: 'load' })(
      async (id: number, ctx: CreationContext<string>) => {
        seen.push({ args: [id], key: ctx.key });
        ctx.setTags([`id:${id}`]);
        if (id === 0) ctx.skip();
        return `v${id}`;
      },
    );
    expect(await load(7)).toBe('v7');
    expect(await load(7)).toBe('v7');
    expect(seen).toEqual([{ args: [7], key: 'load|7' }]);
    expect([...backend.store.keys()]).toEqual(['load|7']);
    await region.invalidateTags(['id:7']);
    expect(await load.get(7)).toBe(NO_VALUE);
    expect(await load(0)).toBe('v0');
    expect(await load.get(0)).toBe(NO_VALUE); // skipped
    expect(await load.refresh(0)).toBe('v0');
    expect(await load.get(0)).toBe(NO_VALUE); // refresh honours skip
    expect(await load.refresh(8)).toBe('v8');
    expect(await load.get(8)).toBe('v8');
  });

  it('is off by default: a function with an optional parameter never gets the context', async () => {
    const region = makeRegion().configure(new MapBackend(), { expirationTime: 600 });
    const greet = region.cacheOnArguments({ namespace: 'greet' })(
      (name: string, greeting?: string) => `${greeting ?? 'hello'} ${name}`,
    );
    expect(await greet('ada')).toBe('hello ada');
  });
});

describe('default key parts never let different arguments collide', () => {
  const key = functionKeyGenerator(undefined, function f() {});

  it('keeps simple strings and numbers readable', () => {
    expect(key('alice', 7, true, null, undefined)).toBe('f|alice 7 true null undefined');
    expect(key()).toBe('f|');
    expect(key(10n)).toBe('f|10n');
  });

  it("'1' and 1 differ; 'true' and true; 'null' and null; '' and no argument", () => {
    expect(key('1')).not.toBe(key(1));
    expect(key('true')).not.toBe(key(true));
    expect(key('null')).not.toBe(key(null));
    expect(key('undefined')).not.toBe(key(undefined));
    expect(key('NaN')).not.toBe(key(Number.NaN));
    expect(key('-Infinity')).not.toBe(key(Number.NEGATIVE_INFINITY));
    expect(key('10n')).not.toBe(key(10n));
    expect(key('')).not.toBe(key());
  });

  it("'a b' as one argument differs from 'a', 'b' as two", () => {
    expect(key('a b')).not.toBe(key('a', 'b'));
    expect(key('a', 'b c')).not.toBe(key('a b', 'c'));
    expect(key('"a"')).not.toBe(key('a'));
  });

  it('plain objects and arrays are keyed by content, whatever the key order', () => {
    expect(key({ a: 1, b: 2 })).toBe(key({ b: 2, a: 1 }));
    expect(key({ a: 1 })).not.toBe(key({ a: 2 }));
    expect(key({ a: 1 })).not.toBe(key({ b: 1 }));
    expect(key({ a: { b: [1, 2] } })).not.toBe(key({ a: { b: [2, 1] } }));
    expect(key([1, 2])).not.toBe(key([1], [2]));
    expect(key({ a: '1' })).not.toBe(key({ a: 1 }));
    expect(key({})).not.toBe(key([]));
    expect(key({ a: 'x y' }, 'z')).not.toBe(key({ a: 'x' }, 'y z'));
  });

  it('a Date is keyed by its time, and never like a string', () => {
    const date = new Date('2024-01-02T03:04:05.000Z');
    expect(key(date)).toBe(key(new Date(date.getTime())));
    expect(key(date)).not.toBe(key(new Date(date.getTime() + 1)));
    expect(key(date)).not.toBe(key(date.toISOString()));
    expect(key(date)).not.toBe(key(`Date(${date.toISOString()})`));
  });

  it('a class instance with its own toString is keyed by it', () => {
    class UserId {
      constructor(readonly id: number) {}
      toString() {
        return `user-${this.id}`;
      }
    }
    expect(key(new UserId(1))).toBe(key(new UserId(1)));
    expect(key(new UserId(1))).not.toBe(key(new UserId(2)));
  });

  it('refuses what it cannot key safely: Map, Set, functions, symbols, plain class instances, cycles', () => {
    class Plain {
      x = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [
      new Map([[1, 2]]),
      new Set([1]),
      () => 1,
      Symbol('s'),
      new Plain(),
      cyclic,
      { d: new Date() },
      { u: undefined },
    ]) {
      expect(() => argToKeyPart(bad), String(bad)).toThrow(ValidationError);
    }
  });

  it('through a decorated function: a Map argument is a ValidationError, not a shared key', async () => {
    const { region } = setup();
    const goCached = region.cacheOnArguments()(function go(m: unknown) {
      return m;
    });
    // Rejects rather than throwing synchronously, so `.catch()` on the call sees it.
    const rejected = goCached(new Map([['a', 1]]));
    await expect(rejected).rejects.toBeInstanceOf(ValidationError);
    await expect(goCached.get(new Map())).rejects.toBeInstanceOf(ValidationError);
    await expect(goCached.set('x', new Map())).rejects.toBeInstanceOf(ValidationError);
    await expect(goCached.invalidate(new Set())).rejects.toBeInstanceOf(ValidationError);
    await expect(goCached.refresh(new Map())).rejects.toBeInstanceOf(ValidationError);
    expect(await goCached({ a: 1 })).toEqual({ a: 1 });
    expect(await goCached({ a: 2 })).toEqual({ a: 2 });
    expect(await goCached('1')).toBe('1');
    expect(await goCached(1)).toBe(1);
  });
});

describe('cacheMultiOnArguments', () => {
  it('caches each argument under its own key and calls the function with just the missing ones', async () => {
    const { region, backend } = setup();
    const calls: number[][] = [];
    const doubleCached = region.cacheMultiOnArguments<number>()(function double(...ids: number[]) {
      calls.push(ids);
      return ids.map((id) => id * 2);
    });
    expect(await doubleCached(1, 2, 3)).toEqual([2, 4, 6]);
    expect(await doubleCached(3, 4, 1)).toEqual([6, 8, 2]);
    expect(calls).toEqual([[1, 2, 3], [4]]);
    expect([...backend.store.keys()].sort()).toEqual([
      'double|1',
      'double|2',
      'double|3',
      'double|4',
    ]);
  });

  it('the default multi key generator is namespace|arg per argument', () => {
    const keys = functionMultiKeyGenerator('ns', function f() {});
    expect(keys('a', 1, 'a b')).toEqual(['ns|a', 'ns|1', 'ns|"a b"']);
    expect(() => functionMultiKeyGenerator(undefined, () => 1)).toThrow(ValidationError);
  });

  it('with asdict, the function returns a Map or an object, and so does the wrapped function', async () => {
    const { region } = setup();
    const calls: string[][] = [];
    const lookupCached = region.cacheMultiOnArguments<string>({ asdict: true })(function lookup(
      ...names: string[]
    ) {
      calls.push(names);
      // Leaves 'ghost' out: it is neither cached nor returned.
      return new Map(names.filter((n) => n !== 'ghost').map((n) => [n, n.toUpperCase()]));
    });
    const result = await lookupCached('a', 'ghost', 'b');
    expect(result).toEqual(
      new Map([
        ['a', 'A'],
        ['b', 'B'],
      ]),
    );
    expect(await lookupCached.get('a', 'ghost')).toEqual(['A', NO_VALUE]);
    expect(await lookupCached('b', 'c')).toEqual(
      new Map([
        ['b', 'B'],
        ['c', 'C'],
      ]),
    );
    // Called with the missing arguments in key order (getOrCreateMulti sorts the keys, as dogpile).
    expect(calls).toEqual([['a', 'b', 'ghost'], ['c']]);

    const asObject = region.cacheMultiOnArguments<number>({ asdict: true, namespace: 'obj' })(
      (...ids: number[]) => Object.fromEntries(ids.map((id) => [id, id * 10])),
    );
    expect(await asObject(1, 2)).toEqual(
      new Map([
        [1, 10],
        [2, 20],
      ]),
    );
  });

  it('.get, .set, .invalidate, .refresh and .original', async () => {
    const { region } = setup();
    let counter = 0;
    const original = function go(...args: number[]) {
      counter++;
      return args.map((a) => `${a}@${counter}`);
    };
    const goCached = region.cacheMultiOnArguments<string>()(original);
    expect(goCached.original).toBe(original);
    expect(await goCached(1, 2)).toEqual(['1@1', '2@1']);
    expect(await goCached.get(1, 2, 3)).toEqual(['1@1', '2@1', NO_VALUE]);

    await goCached.set(new Map([[3, 'three']]));
    expect(await goCached(1, 3)).toEqual(['1@1', 'three']);
    expect(counter).toBe(1);

    await goCached.invalidate(1);
    expect(await goCached.get(1, 2)).toEqual([NO_VALUE, '2@1']);
    expect(await goCached(1, 2)).toEqual(['1@2', '2@1']);

    expect(await goCached.refresh(1, 2)).toEqual(['1@3', '2@3']);
    expect(await goCached(1, 2)).toEqual(['1@3', '2@3']);
  });

  it('refresh and set with asdict', async () => {
    const { region } = setup();
    let round = 0;
    const goCached = region.cacheMultiOnArguments<string>({ asdict: true })(function go(
      ...names: string[]
    ) {
      round++;
      return Object.fromEntries(names.map((n) => [n, `${n}${round}`]));
    });
    expect(await goCached.refresh('a', 'b')).toEqual(
      new Map([
        ['a', 'a1'],
        ['b', 'b1'],
      ]),
    );
    expect(await goCached('a')).toEqual(new Map([['a', 'a1']]));
    await goCached.set({ c: 'custom' });
    expect(await goCached('c')).toEqual(new Map([['c', 'custom']]));
    expect(round).toBe(1);
  });

  it('returns but does not cache what shouldCacheFn rejects', async () => {
    const { region } = setup();
    let calls = 0;
    const goCached = region.cacheMultiOnArguments<number | null>({
      shouldCacheFn: (v) => v !== null,
    })(function go(...ids: number[]) {
      calls++;
      return ids.map((id) => (id % 2 === 0 ? null : id));
    });
    expect(await goCached(1, 2)).toEqual([1, null]);
    expect(await goCached.get(1, 2)).toEqual([1, NO_VALUE]);
    expect(await goCached(1, 2)).toEqual([1, null]);
    expect(calls).toBe(2);
  });

  it('a function returning the wrong number of values is a ValidationError', async () => {
    const { region } = setup();
    const goCached = region.cacheMultiOnArguments()(function go(..._ids: number[]) {
      return [1];
    });
    await expect(goCached(1, 2)).rejects.toBeInstanceOf(ValidationError);
    await expect(goCached.refresh(1, 2)).rejects.toBeInstanceOf(ValidationError);
    const notAMapCached = region.cacheMultiOnArguments({ asdict: true })(function notAMap(
      ..._ids: number[]
    ) {
      return 5 as never;
    });
    await expect(notAMapCached(1)).rejects.toBeInstanceOf(ValidationError);
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe('errors from a decorated function arrive as rejections', () => {
  it('an expirationTime function that throws rejects the call', async () => {
    const { region } = setup();
    const boom = new Error('no config');
    const fn = region.cacheOnArguments({
      expirationTime: () => {
        throw boom;
      },
    })(function fn() {
      return 1;
    });
    const call = fn();
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toBe(boom);
  });

  it('multi: bad arguments reject from the call and from .get/.set/.invalidate', async () => {
    const { region } = setup();
    const many = region.cacheMultiOnArguments()(function many(...xs: unknown[]) {
      return xs;
    });
    await expect(many(new Map())).rejects.toBeInstanceOf(ValidationError);
    await expect(many.get(new Map())).rejects.toBeInstanceOf(ValidationError);
    await expect(many.set(new Map([[new Map(), 1]]))).rejects.toBeInstanceOf(ValidationError);
    await expect(many.invalidate(Symbol('s'))).rejects.toBeInstanceOf(ValidationError);
  });
});
