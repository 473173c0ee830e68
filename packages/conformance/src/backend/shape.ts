import { expect, it } from 'vitest';
import { expectBackendShape } from '../checks.js';
import { type Resolved, TestScope } from '../harness.js';

/**
 * What `createBackend` returns: a CacheBackend whose `serializer` agrees with
 * `capabilities.serialized`.
 */
export function registerShapeTests(o: Resolved): void {
  const { caps } = o;

  it('createBackend returns a CacheBackend', async (ctx) => {
    const scope = new TestScope(o, ctx, 'backend');
    expectBackendShape(await scope.backend());
  });

  it('capabilities.serialized agrees with backend.serializer', async (ctx) => {
    const scope = new TestScope(o, ctx, 'backend');
    const backend = await scope.backend();
    if (caps.serialized) {
      expect(
        backend.serializer,
        'capabilities.serialized is true, but backend.serializer is not set, so the region never calls the *Serialized methods',
      ).toBeDefined();
    } else {
      expect(
        backend.serializer,
        'backend.serializer is set, so the region stores bytes through it; declare capabilities.serialized: true so the kit checks that layer',
      ).toBeUndefined();
    }
  });
}
