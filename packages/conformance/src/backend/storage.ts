import { it } from 'vitest';
import { cachedValue, expectMiss, expectValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';

/** Single-key storage: get of a missing key, set then get, set over a value, delete. */
export function registerStorageTests(o: Resolved): void {
  const t = o.timeoutMs;

  it(
    'get of a missing key is NO_VALUE',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      expectMiss(await backend.get(mangle(backend, scope.key('missing'))), 'get of a missing key');
    },
    t,
  );

  it(
    'set then get returns the payload and all metadata',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key());
      const value = cachedValue({ hello: 'world' });
      await backend.set(key, value);
      expectValue(await backend.get(key), value, 'get after set');
    },
    t,
  );

  it(
    'readNow, when the backend has it, answers what get answers',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      if (typeof backend.readNow !== 'function') ctx.skip();
      const key = mangle(backend, scope.key());
      expectMiss(backend.readNow!(key), 'readNow of a missing key');
      const value = cachedValue({ hello: 'now' });
      await backend.set(key, value);
      expectValue(backend.readNow!(key), value, 'readNow after set');
      expectValue(await backend.get(key), value, 'get after set');
      await backend.delete(key);
      expectMiss(backend.readNow!(key), 'readNow after delete');
    },
    t,
  );

  it(
    'set replaces the previous value',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key());
      await backend.set(key, cachedValue('first'));
      const second = cachedValue('second');
      await backend.set(key, second);
      expectValue(await backend.get(key), second, 'get after a second set');
    },
    t,
  );

  it(
    'delete removes the value; deleting again or deleting a missing key is fine',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key());
      await backend.set(key, cachedValue(1));
      await backend.delete(key);
      expectMiss(await backend.get(key), 'get after delete');
      await backend.delete(key);
      await backend.delete(mangle(backend, scope.key('never-set')));
      expectMiss(await backend.get(key), 'get after a second delete');
    },
    t,
  );
}
