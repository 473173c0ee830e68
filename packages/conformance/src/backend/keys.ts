import { expect, it } from 'vitest';
import { cachedValue, caught, expectDogpileError, expectMiss, expectValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';
import { BARE_KEYS, PREFIXED_KEYS } from './shared.js';

/**
 * Hard keys (unicode, empty-ish, ill-formed, long) are stored apart, or refused with a
 * DogpileError.
 */
export function registerKeyTests(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;

  it(
    'unicode, empty-ish, ill-formed and long keys are stored apart (or rejected with a DogpileError: ill-formed, or past maxKeyLength)',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const keys = [
        ...BARE_KEYS,
        ...PREFIXED_KEYS.map(([name, key]) => [name, `${scope.key('odd')}:${key}`] as const),
      ].map(([name, raw], i) => ({
        name,
        key: mangle(backend, raw),
        value: cachedValue({ i, name }),
      }));
      const stored: typeof keys = [];
      try {
        for (const entry of keys) {
          const error = await caught(() => backend.set(entry.key, entry.value));
          if (error === undefined) {
            stored.push(entry);
            continue;
          }
          expectDogpileError(error, `set of the key "${entry.name}"`);
          if (!entry.key.isWellFormed()) continue;
          const bytes = Buffer.byteLength(entry.key);
          expect(
            caps.maxKeyLength !== undefined && bytes > caps.maxKeyLength,
            `the key "${entry.name}" (${bytes} bytes after mangling) was refused, but it is within capabilities.maxKeyLength (${caps.maxKeyLength ?? 'no limit'}); store it, or give the backend a keyMangler`,
          ).toBe(true);
        }
        for (const entry of stored) {
          expectValue(await backend.get(entry.key), entry.value, `get of the key "${entry.name}"`);
        }
        const all = await backend.getMulti(stored.map((entry) => entry.key));
        stored.forEach((entry, i) => {
          expectValue(all[i]!, entry.value, `getMulti of the key "${entry.name}"`);
        });
      } finally {
        await backend.deleteMulti(stored.map((entry) => entry.key));
      }
      for (const entry of stored)
        expectMiss(await backend.get(entry.key), `the key "${entry.name}" after deleteMulti`);
    },
    t,
  );
}
