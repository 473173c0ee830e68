import { serializeCachedValue } from '@dogpile/core';
import { expect, it } from 'vitest';
import { cachedValue, expectMiss } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';

/**
 * A backend that stores nothing (`capabilities.stores: false`): every read misses, and deletes are
 * harmless.
 */
export function registerNoStoreTests(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;

  it(
    'stores nothing: every read misses',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const [a, b] = [mangle(backend, scope.key('a')), mangle(backend, scope.key('b'))];
      await backend.set(a, cachedValue(1));
      await backend.setMulti(new Map([[b, cachedValue(2)]]));
      expectMiss(await backend.get(a), 'get after set');
      const many = await backend.getMulti([a, b, a]);
      expect(many, 'getMulti returns one entry per key asked').toHaveLength(3);
      for (const value of many) expectMiss(value, 'getMulti after setMulti');
      expect(await backend.getMulti([])).toEqual([]);
      if (caps.serialized) {
        await backend.setSerialized(a, serializeCachedValue(cachedValue(3), backend.serializer!));
        expectMiss(await backend.getSerialized(a), 'getSerialized after setSerialized');
      }
    },
    t,
  );

  it(
    'delete and deleteMulti are harmless',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key());
      await backend.delete(key);
      await backend.deleteMulti([key, key]);
      await backend.deleteMulti([]);
    },
    t,
  );
}
