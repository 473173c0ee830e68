import { NullMutex } from '@dogpile/core';
import { expect, it } from 'vitest';
import { type Resolved, TestScope } from '../harness.js';
import { isMutex } from './shared.js';

/** What `getMutex` returns agrees with `capabilities.mutex`. */
export function registerCapabilityTests(o: Resolved): void {
  const { caps } = o;

  it(`getMutex agrees with capabilities.mutex (${String(caps.mutex)})`, async (ctx) => {
    const scope = new TestScope(o, ctx, 'mutex');
    const backend = await scope.backend();
    const mutex = scope.mutex(backend, scope.key());
    if (caps.mutex === false) {
      expect(
        mutex instanceof NullMutex,
        'capabilities.mutex is false, so getMutex must return a NullMutex (anything else, null included, makes the region lock)',
      ).toBe(true);
    } else if (caps.mutex === 'local') {
      expect(
        mutex === null || (isMutex(mutex) && !(mutex instanceof NullMutex)),
        'capabilities.mutex is "local", so getMutex must return null or a CacheMutex that is not a NullMutex',
      ).toBe(true);
    } else {
      expect(
        isMutex(mutex) && !(mutex instanceof NullMutex),
        'capabilities.mutex is "distributed", so getMutex must return a CacheMutex that is not a NullMutex',
      ).toBe(true);
    }
  });
}
