import { NO_VALUE } from '@dogpile/core';
import { it } from 'vitest';
import { cachedValue, caught, expectDogpileError, expectValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';
import { largeString, PAYLOADS } from './shared.js';

/** Payloads: every JSON type, a 1 MiB value, and a value over `capabilities.maxValueBytes`. */
export function registerPayloadTests(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;

  it(
    'stores payloads of every JSON type, null included',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const entries = PAYLOADS.map(([name, payload]) => {
        const slug = name.replace(/\s/g, '-');
        return {
          name,
          key: mangle(backend, scope.key(slug)),
          batchKey: mangle(backend, scope.key(`${slug}-batch`)),
          value: cachedValue(payload),
        };
      });
      for (const { name, key, value } of entries) {
        await backend.set(key, value);
        expectValue(await backend.get(key), value, `${name} through set/get`);
      }
      await backend.setMulti(
        new Map(entries.map(({ batchKey, value }) => [batchKey, value] as const)),
      );
      const got = await backend.getMulti(entries.map(({ batchKey }) => batchKey));
      entries.forEach(({ name, value }, i) => {
        expectValue(got[i]!, value, `${name} through setMulti/getMulti`);
      });
    },
    t,
  );

  it(
    'stores a 1 MiB payload',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key('large'));
      const value = cachedValue({ blob: largeString(), tail: 'end' });
      await backend.set(key, value);
      expectValue(await backend.get(key), value, 'a 1 MiB payload through set/get');
      const [viaMulti] = await backend.getMulti([key]);
      expectValue(viaMulti!, value, 'a 1 MiB payload through getMulti');
      await backend.delete(key);
    },
    t,
  );

  if (caps.maxValueBytes !== undefined) {
    const limit = caps.maxValueBytes;
    it(
      `a value over maxValueBytes (${limit}) is refused or missed, never truncated`,
      async (ctx) => {
        const scope = new TestScope(o, ctx, 'backend');
        const backend = await scope.backend();
        const key = mangle(backend, scope.key('too-large'));
        const value = cachedValue(largeString(limit + 1024));
        const error = await caught(() => backend.set(key, value));
        if (error !== undefined) {
          expectDogpileError(error, 'set of a value over maxValueBytes');
          return;
        }
        const got = await backend.get(key);
        if (got !== NO_VALUE) expectValue(got, value, 'a value over maxValueBytes that was stored');
      },
      t,
    );
  }
}
