export { backendSuite } from './backend-suite.js';
export { crossProcessSuite } from './cross-process-suite.js';
export { mutexSuite } from './mutex-suite.js';
export type {
  BackendCapabilities,
  BackendDisposer,
  BackendFactory,
  BackendHints,
  ConformanceOptions,
  CrossProcessOptions,
} from './options.js';
export { regionInputSuite } from './region-input-suite.js';
export { regionSuite } from './region-suite.js';
export { runConformance } from './run-conformance.js';
export { serializerSuite } from './serializer-suite.js';
export { valueIsolationSuite } from './value-isolation-suite.js';
