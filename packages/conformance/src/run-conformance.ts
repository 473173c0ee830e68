import { describe } from 'vitest';
import { registerBackendSuite } from './backend-suite.js';
import { registerCrossProcessSuite } from './cross-process-suite.js';
import { resolveOptions } from './harness.js';
import { registerMutexSuite } from './mutex-suite.js';
import type { ConformanceOptions } from './options.js';
import { registerRegionInputSuite } from './region-input-suite.js';
import { registerRegionSuite } from './region-suite.js';
import { registerSerializerSuite } from './serializer-suite.js';
import { registerValueIsolationSuite } from './value-isolation-suite.js';

/**
 * Registers every suite of the kit under one `describe`: backend, mutex, serializer, region, bad
 * input, value isolation and cross-process. Each runs the checks the capabilities allow; the rest show up as skipped, with
 * the reason. Call it at the top level of a vitest test file.
 *
 * @example
 * runConformance({ name: 'MyBackend', createBackend: () => new MyBackend(), capabilities: { serialized: true } });
 */
export function runConformance(options: ConformanceOptions): void {
  const resolved = resolveOptions(options);
  describe(`dogpile conformance: ${resolved.name}`, () => {
    registerBackendSuite(resolved);
    registerMutexSuite(resolved);
    registerSerializerSuite(resolved);
    registerRegionSuite(resolved);
    registerRegionInputSuite(resolved);
    registerValueIsolationSuite(resolved);
    registerCrossProcessSuite(resolved);
  });
}
