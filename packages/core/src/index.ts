// Backends and the formats they store.
export { BytesBackend, CacheBackend, type KeyMangler } from './backend/backend.js';
export {
  type BackendFactory,
  type BackendResolveOptions,
  getBackendFactory,
  KNOWN_BACKEND_PACKAGES,
  loadBackendFactory,
  registerBackend,
} from './backend/backend-registry.js';
export { CachedValue, type CacheMetadata, VALUE_VERSION } from './backend/cached-value.js';
export { NullBackend } from './backend/null-backend.js';
export { ProxyBackend } from './backend/proxy-backend.js';
export { jsonSerializer, type Serializer, v8Serializer } from './backend/serializer.js';
export { deserializeCachedValue, serializeCachedValue } from './backend/wire-format.js';
// Primitives.
export { type Clock, EXPIRY_RESOLUTION_MS, systemClock } from './clock.js';
export { type Duration, type DurationString, type DurationUnit, toSeconds } from './duration.js';
export {
  BackendClosedError,
  CachedCreatorError,
  CantDeserializeError,
  CreationAbandonedError,
  CreatorTimeoutError,
  DogpileError,
  type DogpileErrorCode,
  InvalidationNotAttachedError,
  LockLostError,
  LockStateError,
  LockTimeoutError,
  NeedRegenerationError,
  PluginNotFoundError,
  RegionAlreadyConfiguredError,
  RegionClosedError,
  RegionNotConfiguredError,
  SerializationError,
  ValidationError,
} from './errors.js';
export {
  type CoalescedEvent,
  channelNames,
  coalescedChannel,
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
// Invalidation.
export {
  type BackendInvalidationOptions,
  BackendInvalidationStrategy,
} from './invalidation/backend-invalidation.js';
export {
  DefaultInvalidationStrategy,
  type InvalidationContext,
  type RegionInvalidationStrategy,
} from './invalidation/invalidation.js';
// Keys.
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
} from './keys/key-generators.js';
export { validateKey } from './keys/key-validation.js';
export { rejectUnknownOptions } from './known-options.js';
// Locks: dogpile's Lock, the mutex contract, and the one distributed lock.
export { LeaseLocks, type LeaseLocksOptions } from './lock/lease-locks.js';
export { type LeaseHost, LeaseMutex } from './lock/lease-mutex.js';
export type { LeaseStore, ReleaseWatch } from './lock/lease-store.js';
export {
  type AsyncCreator,
  Lock,
  type LockOptions,
  type ValueAndCreated,
} from './lock/lock.js';
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
  type AcquireOptions,
  type CacheMutex,
  NullMutex,
  type WaitForReleaseOptions,
} from './lock/mutex.js';
export { isNoValue, NO_VALUE, NoValue } from './no-value.js';
export { type RandomSource, systemRandom } from './random.js';
// The region.
export type {
  CachedFunction,
  CachedMultiFunction,
  CacheMultiOnArgumentsOptions,
  CacheOnArgumentsDecorator,
  CacheOnArgumentsOptions,
  MultiDictResult,
} from './region/cached-function.js';
export type { CreationContext, CreationOptions } from './region/creation.js';
export { type EarlyRefreshOptions, earlyRefreshProbability } from './region/early-refresh.js';
export type { FailSafeOptions } from './region/fail-safe.js';
export { coerceStringConfig, type FlatConfig, readFlatConfig } from './region/flat-config.js';
export type { CallWaitOptions, LockWaitOptions, OnLockTimeout } from './region/lock-wait.js';
export type { MultiCreator } from './region/multi-flow.js';
export type { RefreshOptions } from './region/refresh-options.js';
export { CacheRegion, makeRegion } from './region/region.js';
export type {
  AsyncCreationRunner,
  CachingRegion,
  ConfigureOptions,
  Creator,
  GetOptions,
  GetOrCreateMultiOptions,
  GetOrCreateOptions,
  RegionOptions,
} from './region/region-options.js';
