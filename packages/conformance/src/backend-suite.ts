import { describe } from 'vitest';
import { registerBytesTests } from './backend/bytes.js';
import { registerKeyTests } from './backend/keys.js';
import { registerMultiTests } from './backend/multi.js';
import { registerNoStoreTests } from './backend/no-store.js';
import { registerPayloadTests } from './backend/payloads.js';
import { registerResourceTests } from './backend/resources.js';
import { registerShapeTests } from './backend/shape.js';
import { registerStorageTests } from './backend/storage.js';
import { registerTtlTests } from './backend/ttl.js';
import { type Resolved, resolveOptions } from './harness.js';
import type { ConformanceOptions } from './options.js';

/**
 * Registers the backend suite: get/set/delete and their multi forms, keys and payloads of every
 * kind, the byte layer, server-side TTL and `close()`.
 */
export function backendSuite(options: ConformanceOptions): void {
  registerBackendSuite(resolveOptions(options));
}

/** Registers the backend groups (in `src/backend/`) the capabilities allow, in a fixed order. */
export function registerBackendSuite(o: Resolved): void {
  const { caps } = o;

  describe(`${o.name}: backend`, () => {
    registerShapeTests(o);
    if (!caps.stores) {
      registerNoStoreTests(o);
    } else {
      registerStorageTests(o);
      registerMultiTests(o);
      registerPayloadTests(o);
      registerKeyTests(o);
    }
    if (caps.stores && caps.serialized) registerBytesTests(o);
    if (caps.stores && caps.ttl !== false) registerTtlTests(o);
    registerResourceTests(o);
  });
}
