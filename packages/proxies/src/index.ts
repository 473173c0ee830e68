export { ByteTransformProxy } from './byte-transform-proxy.js';
export {
  CircuitBreakerProxy,
  type CircuitBreakerProxyOptions,
  type CircuitEvent,
  type CircuitState,
  circuitChannel,
  circuitChannelName,
} from './circuit-breaker-proxy.js';
export {
  type CompressionAlgorithm,
  CompressionProxy,
  type CompressionProxyOptions,
} from './compression-proxy.js';
export { EncryptionProxy, type EncryptionProxyOptions } from './encryption-proxy.js';
export {
  BackendTimeoutError,
  CircuitOpenError,
  ProxyError,
  type ProxyErrorCode,
  UnreadableValueError,
} from './errors.js';
export type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from './invalidation-bus.js';
export {
  type CallRecord,
  type Logger,
  LoggingProxy,
  type LoggingProxyOptions,
  type LogLevel,
} from './logging-proxy.js';
export { MemoryBus } from './memory-bus.js';
export {
  NamespaceProxy,
  type NamespaceProxyOptions,
  type ScannableBackend,
} from './namespace-proxy.js';
export { PassThroughProxy } from './pass-through-proxy.js';
export {
  LATENCY_BUCKETS_MS,
  type OperationStats,
  StatsProxy,
  type StatsProxyOptions,
  type StatsSnapshot,
} from './stats-proxy.js';
export { TieredProxy, type TieredProxyOptions } from './tiered-proxy.js';
export { TimeoutProxy, type TimeoutProxyOptions } from './timeout-proxy.js';
