import { NO_VALUE, serializeCachedValue } from '@dogpile/core';
import { expect, it } from 'vitest';
import { cachedValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';
import { sleep, waitFor } from '../timing.js';

/**
 * Server-side TTL (`capabilities.ttl`): entries written with `hints.ttlMs` go about then, through
 * every write method.
 */
export function registerTtlTests(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;
  const ttlMs = caps.ttl === 'milliseconds' ? 400 : 2000;
  const slack = caps.ttl === 'milliseconds' ? 1500 : 2500;

  it(
    `the store drops entries about hints.ttlMs (${ttlMs} ms) after writing them, through every write method`,
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend({ ttlMs });
      const [one, m1, m2, raw] = ['one', 'm1', 'm2', 'raw'].map((name) =>
        mangle(backend, scope.key(name)),
      );
      const started = Date.now();
      await backend.set(one!, cachedValue(1));
      await backend.setMulti(
        new Map([
          [m1!, cachedValue(2)],
          [m2!, cachedValue(3)],
        ]),
      );
      const keys = [one!, m1!, m2!];
      if (caps.serialized) {
        await backend.setSerializedMulti(
          new Map([[raw!, serializeCachedValue(cachedValue(4), backend.serializer!)]]),
        );
        keys.push(raw!);
      }
      for (const value of await backend.getMulti(keys)) {
        expect(value, 'an entry right after writing it with hints.ttlMs').not.toBe(NO_VALUE);
      }
      await sleep(Math.max(0, started + ttlMs / 4 - Date.now()));
      for (const value of await backend.getMulti(keys)) {
        expect(value, `an entry ${ttlMs / 4} ms into a ${ttlMs} ms TTL`).not.toBe(NO_VALUE);
      }
      await waitFor(
        async () => (await backend.getMulti(keys)).every((value) => value === NO_VALUE),
        `every entry written with a ${ttlMs} ms TTL (set, setMulti${caps.serialized ? ', setSerializedMulti' : ''}) to be gone`,
        { timeoutMs: ttlMs + slack, intervalMs: 50 },
      );
      expect(
        Date.now() - started,
        'entries must not vanish long before their TTL',
      ).toBeGreaterThanOrEqual(ttlMs / 2);
    },
    t + ttlMs + slack,
  );
}
