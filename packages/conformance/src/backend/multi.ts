import { expect, it } from 'vitest';
import { cachedValue, expectMiss, expectValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';

/**
 * The multi forms: empty input, the order of getMulti answers, repeated and missing keys, setMulti
 * and deleteMulti.
 */
export function registerMultiTests(o: Resolved): void {
  const t = o.timeoutMs;

  it(
    'getMulti([]) is [], and setMulti/deleteMulti accept empty input',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      expect(await backend.getMulti([])).toEqual([]);
      await backend.setMulti(new Map());
      await backend.deleteMulti([]);
    },
    t,
  );

  it(
    'getMulti keeps the order of the keys asked for, NO_VALUE where missing',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const keys = Array.from({ length: 6 }, (_, i) => mangle(backend, scope.key(`k${i}`)));
      const values = keys.map((_, i) => cachedValue(`value ${i}`));
      for (let i = 0; i < keys.length; i++) await backend.set(keys[i]!, values[i]!);
      const missing = mangle(backend, scope.key('missing'));
      const order = [3, 0, -1, 5, 1, 4, 2];
      const got = await backend.getMulti(order.map((i) => (i < 0 ? missing : keys[i]!)));
      expect(got, 'getMulti returns one entry per key asked').toHaveLength(order.length);
      order.forEach((i, position) => {
        if (i < 0) expectMiss(got[position], `getMulti position ${position} (a missing key)`);
        else expectValue(got[position]!, values[i]!, `getMulti position ${position} (key ${i})`);
      });

      // Written in one batch and read back reversed: a store that answers in its own order fails.
      const batch = new Map(keys.map((key, i) => [key, cachedValue(`batch ${i}`)] as const));
      await backend.setMulti(batch);
      const reversed = [...keys].reverse();
      const again = await backend.getMulti(reversed);
      reversed.forEach((key, position) => {
        expectValue(
          again[position]!,
          batch.get(key)!,
          `getMulti of reversed keys, position ${position}`,
        );
      });
    },
    t,
  );

  it(
    'getMulti answers a key asked several times at every position',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const [a, b, missing] = ['a', 'b', 'missing'].map((name) => mangle(backend, scope.key(name)));
      const [va, vb] = [cachedValue('A'), cachedValue('B')];
      await backend.set(a!, va);
      await backend.set(b!, vb);
      const got = await backend.getMulti([a!, b!, a!, missing!, a!, missing!]);
      expect(got).toHaveLength(6);
      expectValue(got[0]!, va, 'position 0');
      expectValue(got[1]!, vb, 'position 1');
      expectValue(got[2]!, va, 'position 2 (repeat)');
      expectMiss(got[3], 'position 3 (missing)');
      expectValue(got[4]!, va, 'position 4 (repeat)');
      expectMiss(got[5], 'position 5 (missing, repeated)');
    },
    t,
  );

  it(
    'setMulti stores every entry; deleteMulti removes them, ignoring missing and repeated keys',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const keys = Array.from({ length: 5 }, (_, i) => mangle(backend, scope.key(`m${i}`)));
      const mapping = new Map(keys.map((key, i) => [key, cachedValue({ i })] as const));
      await backend.setMulti(mapping);
      for (const key of keys)
        expectValue(await backend.get(key), mapping.get(key)!, 'get after setMulti');
      const missing = mangle(backend, scope.key('missing'));
      await backend.deleteMulti([keys[0]!, missing, keys[1]!, keys[0]!]);
      expectMiss(await backend.get(keys[0]!), 'deleted key 0');
      expectMiss(await backend.get(keys[1]!), 'deleted key 1');
      expectValue(
        await backend.get(keys[2]!),
        mapping.get(keys[2]!)!,
        'key 2 survives a deleteMulti of others',
      );
      await backend.deleteMulti(keys);
      for (const value of await backend.getMulti(keys))
        expectMiss(value, 'after deleteMulti of all');
    },
    t,
  );
}
