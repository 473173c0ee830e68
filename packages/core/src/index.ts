export { BytesBackend, CacheBackend, type KeyMangler } from './backend.js';
export {
  type BackendInvalidationOptions,
  BackendInvalidationStrategy,
} from './backend-invalidation.js';
export {
  type BackendFactory,
  getBackendFactory,
  KNOWN_BACKEND_PACKAGES,
  loadBackendFactory,
  registerBackend,
} from './backend-registry.js';
export type {
  CachedFunction,
  CachedMultiFunction,
  CacheMultiOnArgumentsOptions,
  CacheOnArgumentsOptions,
} from './cached-function.js';
export { CachedValue, type CacheMetadata, VALUE_VERSION } from './cached-value.js';
export { type Clock, systemClock } from './clock.js';
export { coerceStringConfig } from './coerce-config.js';
export { type Duration, toSeconds } from './duration.js';
export { type EarlyRefreshOptions, earlyRefreshProbability } from './early-refresh.js';
export {
  BackendClosedError,
  CantDeserializeError,
  DogpileError,
  LockLostError,
  LockStateError,
  LockTimeoutError,
  PluginNotFoundError,
  RegionAlreadyConfiguredError,
  RegionNotConfiguredError,
  SerializationError,
  ValidationError,
} from './errors.js';
export type { FailSafeOptions } from './fail-safe.js';
export {
  channelNames,
  type ErrorEvent,
  errorChannel,
  type HitEvent,
  hitChannel,
  type LockWaitEvent,
  lockWaitChannel,
  type MissEvent,
  missChannel,
  type RegenerationEndEvent,
  type RegenerationReason,
  type RegenerationStartEvent,
  regenerationEndChannel,
  regenerationStartChannel,
  reportError,
  type StaleServedEvent,
  staleServedChannel,
} from './instrumentation.js';
export {
  DefaultInvalidationStrategy,
  type InvalidationContext,
  type RegionInvalidationStrategy,
} from './invalidation.js';
export {
  argToKeyPart,
  type FunctionKeyGenerator,
  type FunctionMultiKeyGenerator,
  functionKeyGenerator,
  functionMultiKeyGenerator,
  type KeyGeneratorOptions,
  lengthConditionalMangler,
  sha1MangleKey,
  type ToStr,
} from './key-generators.js';
export { KeyedLocks } from './keyed-locks.js';
export { LeaseLocks, type LeaseLocksOptions } from './lock/lease-locks.js';
export { type LeaseHost, LeaseMutex } from './lock/lease-mutex.js';
export type { LeaseStore, ReleaseWatch } from './lock/lease-store.js';
export {
  type DistributedLockOptions,
  type LeaseSettings,
  LOCK_OPTION_ALIASES,
  LOCK_OPTION_NAMES,
  type LockDefaults,
  resolveLockOptions,
  warnDeprecatedOption,
} from './lock/lock-options.js';
export {
  type AsyncCreator,
  Lock,
  type LockOptions,
  NeedRegenerationError,
  type ValueAndCreated,
} from './lock.js';
export type { CallWaitOptions, LockWaitOptions, OnLockTimeout } from './lock-wait.js';
export {
  type AcquireOptions,
  type CacheMutex,
  NullMutex,
  type WaitForReleaseOptions,
} from './mutex.js';
export { isNoValue, NO_VALUE, NoValue } from './no-value.js';
export { NullBackend } from './null-backend.js';
export { ProxyBackend } from './proxy-backend.js';
export { type RandomSource, systemRandom } from './random.js';
export type { RefreshOptions } from './refresh-options.js';
export {
  type AsyncCreationRunner,
  CacheRegion,
  type ConfigureOptions,
  type Creator,
  type GetOptions,
  type GetOrCreateMultiOptions,
  type GetOrCreateOptions,
  type MultiDictResult,
  makeRegion,
  type RegionOptions,
} from './region.js';
export { RegionMutex } from './region-mutex.js';
export { jsonSerializer, type Serializer, v8Serializer } from './serializer.js';
export { deserializeCachedValue, serializeCachedValue } from './wire-format.js';
