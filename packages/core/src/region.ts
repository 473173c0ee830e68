import type { CacheBackend, KeyMangler } from './backend.js';
import { getBackendFactory, loadBackendFactory } from './backend-registry.js';
import { BackgroundRefresher } from './background-refresh.js';
import {
  type CachedFunction,
  type CachedMultiFunction,
  type CacheMultiOnArgumentsOptions,
  type CacheOnArgumentsOptions,
  makeCachedFunction,
  makeCachedMultiFunction,
} from './cached-function.js';
import { CachedValue, type CacheMetadata, VALUE_VERSION } from './cached-value.js';
import { type Clock, systemClock } from './clock.js';
import { coerceStringConfig } from './coerce-config.js';
import {
  CreationGuard,
  callGuardSettings,
  type GuardSettings,
  regionGuardSettings,
} from './creation-guard.js';
import { type Duration, toSeconds } from './duration.js';
import { earlyRefreshBeta, shouldRefreshEarly } from './early-refresh.js';
import {
  DogpileError,
  LockTimeoutError,
  RegionAlreadyConfiguredError,
  RegionNotConfiguredError,
  ValidationError,
} from './errors.js';
import {
  FailSafeMutex,
  type FailSafeOptions,
  parseFailSafe,
  servableOnError,
} from './fail-safe.js';
import {
  hitChannel,
  lockWaitChannel,
  missChannel,
  publishHit,
  publishLockWait,
  publishMiss,
  publishStaleServed,
  type RegenerationReason,
  reportError,
} from './instrumentation.js';
import { DefaultInvalidationStrategy, type RegionInvalidationStrategy } from './invalidation.js';
import {
  type FunctionKeyGenerator,
  type FunctionMultiKeyGenerator,
  functionKeyGenerator,
  functionMultiKeyGenerator,
} from './key-generators.js';
import { KeyedLocks } from './keyed-locks.js';
import {
  type AsyncCreator,
  Lock,
  type LockOptions,
  NeedRegenerationError,
  type ValueAndCreated,
} from './lock.js';
import { type CallWaitOptions, LockWait, type LockWaitOptions } from './lock-wait.js';
import { type CacheMutex, NullMutex } from './mutex.js';
import { NO_VALUE, type NoValue } from './no-value.js';
import { ProxyBackend } from './proxy-backend.js';
import { type RandomSource, systemRandom } from './random.js';
import type { RefreshOptions } from './refresh-options.js';
import { runCreator, runMultiCreator } from './regeneration.js';
import { RegionMutex } from './region-mutex.js';
import type { Serializer } from './serializer.js';
import { HandedRead, SharedReads } from './shared-reads.js';
import { timeWaits } from './timed-mutex.js';
import { joinCachedValue, serializeCachedValue } from './wire-format.js';

/**
 * Runs a regeneration in the background while the stale value is served (dogpile's
 * `async_creation_runner`). It receives the held mutex and must release it when done, typically:
 *
 * @example
 * const runner: AsyncCreationRunner = (region, key, creator, mutex) => {
 *   void (async () => {
 *     try { await region.set(key, await creator()); } finally { await mutex.release(); }
 *   })();
 * };
 */
export type AsyncCreationRunner = (
  region: CacheRegion,
  key: string,
  creator: () => Promise<unknown>,
  mutex: CacheMutex,
) => void | Promise<void>;

/**
 * How a region is built.
 *
 * @example
 * const region = makeRegion({ name: 'users', keyMangler: sha1MangleKey });
 */
export interface RegionOptions extends LockWaitOptions, FailSafeOptions, RefreshOptions {
  /** A name for error messages and instrumentation. Default: `'default'`. */
  name?: string;
  /** Builds keys for {@link CacheRegion.cacheOnArguments}. Default: {@link functionKeyGenerator}. */
  functionKeyGenerator?: FunctionKeyGenerator;
  /** Builds keys for {@link CacheRegion.cacheMultiOnArguments}. Default: {@link functionMultiKeyGenerator}. */
  functionMultiKeyGenerator?: FunctionMultiKeyGenerator;
  /** Applied to every key before it reaches the backend. Default: the backend's own, if any. */
  keyMangler?: KeyMangler;
  /**
   * Store payloads as bytes with this serializer, over the backend's. Default: the backend's
   * (`jsonSerializer` for byte backends; none for `MemoryBackend`, which keeps objects).
   */
  serializer?: Serializer;
  /**
   * Your own runner for background regenerations, as dogpile's `async_creation_runner`; see
   * {@link AsyncCreationRunner}. Giving one turns background regeneration on (as `backgroundRefresh:
   * true` does) and it takes precedence over the built-in runner. Default: none.
   */
  asyncCreationRunner?: AsyncCreationRunner;
  /** The time source, for tests. Default: the system clock. */
  clock?: Clock;
  /**
   * The random source, numbers in `[0, 1)`, for tests of early refresh. Default: `Math.random`.
   */
  random?: RandomSource;
}

/**
 * Options of {@link CacheRegion.configure}.
 *
 * @example
 * region.configure(new MemoryBackend(), { expirationTime: '5m' });
 * region.configure('redis', { expirationTime: 300, arguments: { url: 'redis://localhost' } });
 */
export interface ConfigureOptions {
  /**
   * How long a value stays fresh: seconds, or a duration string (`'250ms'`, `'5m'`). `-1` or
   * absent: never expires (the backend's own expiry still applies).
   */
  expirationTime?: Duration | null;
  /** Passed to the registered factory when `backend` is a name. Default: `{}`. */
  arguments?: Record<string, unknown>;
  /**
   * Proxies to put in front of the backend, outermost first: `[a, b]` makes calls go a → b →
   * backend. Classes are instantiated with no arguments. Default: none.
   */
  wrap?: ReadonlyArray<ProxyBackend | (new () => ProxyBackend)>;
  /** Allow configuring a region that already has a backend. Default: `false`. */
  replaceExistingBackend?: boolean;
  /** Replaces the in-process invalidation strategy. Default: {@link DefaultInvalidationStrategy}. */
  regionInvalidator?: RegionInvalidationStrategy;
}

/** Options of the read methods. */
export interface GetOptions {
  /** Overrides the region's expiration time for this read only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Return a present value whatever its age or invalidation. Default: `false`. */
  ignoreExpiration?: boolean;
}

/** Creates a value; may be sync or async. */
export type Creator<T> = (...args: never[]) => T | Promise<T>;

/** Options of {@link CacheRegion.getOrCreate}. */
export interface GetOrCreateOptions<T> extends CallWaitOptions, FailSafeOptions, RefreshOptions {
  /** Overrides the region's expiration time for this call only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Called with a newly created value; return `false` to return it without caching it. */
  shouldCacheFn?: (value: T) => boolean;
  /** Arguments passed to the creator. Default: none. */
  creatorArgs?: readonly unknown[];
}

/** Options of {@link CacheRegion.getOrCreateMulti}. */
export interface GetOrCreateMultiOptions<T> extends CallWaitOptions, FailSafeOptions {
  /** Overrides the region's expiration time for this call only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Called with each newly created value; return `false` to return it without caching it. */
  shouldCacheFn?: (value: T) => boolean;
}

/** What a `cacheMultiOnArguments({ asdict: true })` function returns. */
export type MultiDictResult<A, R> = ReadonlyMap<A, R> | Readonly<Record<string, R>>;

// Thrown on every miss on the slow path; building a fresh Error (and its stack) each time costs
// more than the rest of the miss handling.
const NEED_REGENERATION = new NeedRegenerationError();
/** The mutex of a caller that gave up waiting and creates without the lock. */
const NO_LOCK = new NullMutex();

function notAFunction(what: string, value: unknown): never {
  throw new ValidationError(`${what} must be a function; got ${typeof value}.`);
}

/**
 * A cache region: the front end to one backend, the port of dogpile.cache's `CacheRegion`.
 *
 * @example
 * const region = makeRegion().configure(new MemoryBackend(), { expirationTime: '10m' });
 * const user = await region.getOrCreate(`user:${id}`, () => db.loadUser(id));
 */
export class CacheRegion {
  /** The name given at construction, for messages. */
  readonly name: string;
  readonly functionKeyGenerator: FunctionKeyGenerator;
  readonly functionMultiKeyGenerator: FunctionMultiKeyGenerator;
  readonly asyncCreationRunner: AsyncCreationRunner | undefined;

  #backend: CacheBackend | undefined;
  #closed = false;
  readonly #ownKeyMangler: KeyMangler | undefined;
  readonly #ownSerializer: Serializer | undefined;
  #keyMangler: KeyMangler | undefined;
  #serializer: Serializer | undefined;
  /** Seconds; `null` for never. */
  #expiration: number | null = null;
  #invalidator: RegionInvalidationStrategy;
  readonly #locks = new KeyedLocks();
  readonly #clock: Clock;
  /** lockWaitTimeout, onLockTimeout, failSafe, staleIfError; `null` when all are off. */
  readonly #guardSettings: Omit<GuardSettings, 'signal'> | null;
  readonly #random: RandomSource;
  readonly #backgroundRefresh: boolean;
  /** The region's early refresh `beta`; `0` when off, which keeps the hit path to one test. */
  readonly #earlyBeta: number;
  readonly #background = new BackgroundRefresher();
  /** With a serializer, reads shared among concurrent callers; see #read. */
  #shared: SharedReads | undefined;

  constructor(options: RegionOptions = {}) {
    this.name = options.name ?? 'default';
    this.functionKeyGenerator = options.functionKeyGenerator ?? functionKeyGenerator;
    this.functionMultiKeyGenerator = options.functionMultiKeyGenerator ?? functionMultiKeyGenerator;
    if (
      options.asyncCreationRunner !== undefined &&
      typeof options.asyncCreationRunner !== 'function'
    ) {
      notAFunction('asyncCreationRunner', options.asyncCreationRunner);
    }
    if (options.keyMangler !== undefined && typeof options.keyMangler !== 'function') {
      notAFunction('keyMangler', options.keyMangler);
    }
    this.asyncCreationRunner = options.asyncCreationRunner;
    this.#ownKeyMangler = options.keyMangler;
    this.#ownSerializer = options.serializer;
    this.#clock = options.clock ?? systemClock;
    this.#guardSettings = regionGuardSettings(options);
    if (options.random !== undefined && typeof options.random !== 'function') {
      notAFunction('random', options.random);
    }
    this.#random = options.random ?? systemRandom;
    checkBackgroundRefresh(options.backgroundRefresh);
    if (options.backgroundRefresh === false && options.asyncCreationRunner !== undefined) {
      throw new ValidationError(
        'backgroundRefresh: false contradicts asyncCreationRunner, which regenerates in the background. Drop one of them.',
      );
    }
    this.#backgroundRefresh =
      options.backgroundRefresh ?? options.asyncCreationRunner !== undefined;
    this.#earlyBeta = earlyRefreshBeta(options.earlyRefresh, 'earlyRefresh');
    this.#invalidator = new DefaultInvalidationStrategy(() => this.#now());
  }

  #now(): number {
    return this.#clock.now() / 1000;
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Gives the region its backend: an instance, or the name a backend package registered
   * (`'memory'`, `'redis'`, ...) with `arguments` for its factory. Returns the region.
   */
  configure(backend: CacheBackend | string, options: ConfigureOptions = {}): this {
    if (this.#backend && !options.replaceExistingBackend) {
      throw new RegionAlreadyConfiguredError(this.name);
    }
    const expiration =
      options.expirationTime === undefined || options.expirationTime === null
        ? -1
        : toSeconds(options.expirationTime, 'expirationTime');
    let instance: CacheBackend;
    if (typeof backend === 'string') {
      instance = getBackendFactory(backend)(options.arguments ?? {});
    } else if (backend && typeof backend === 'object' && typeof backend.get === 'function') {
      instance = backend;
    } else {
      throw new ValidationError(
        'configure() takes a backend instance (new MemoryBackend()) or a registered backend name.',
      );
    }
    this.#backend = instance;
    this.#closed = false;
    this.#expiration = expiration === -1 ? null : expiration;
    this.#keyMangler = this.#ownKeyMangler ?? instance.keyMangler;
    this.#serializer = this.#ownSerializer ?? instance.serializer;
    this.#shared = this.#serializer === undefined ? undefined : new SharedReads(this.#serializer);
    if (options.regionInvalidator) this.#invalidator = options.regionInvalidator;
    const wrap = options.wrap ?? [];
    for (let i = wrap.length - 1; i >= 0; i--) this.wrap(wrap[i]!);
    this.#invalidator.attach?.({
      owner: this,
      regionName: this.name,
      backend: () => this.backend,
      mangleKey: (key) => this.#mangle(key),
      now: () => this.#now(),
    });
    return this;
  }

  /**
   * Configures from a flat config object, as dogpile's `configure_from_config`: `<prefix>backend`
   * names the backend (its package is imported if installed), `<prefix>expirationTime` (or
   * `expiration_time`), and every `<prefix>arguments.<name>` becomes a backend argument, with
   * snake_case names turned to camelCase. String values are coerced (`'30'` → 30, `'true'` → true).
   *
   * @example
   * await region.configureFromConfig(
   *   { 'cache.backend': 'redis', 'cache.expiration_time': '300', 'cache.arguments.url': 'redis://localhost' },
   *   'cache.',
   * );
   */
  async configureFromConfig(
    config: Readonly<Record<string, unknown>>,
    prefix: string,
  ): Promise<this> {
    const values = coerceStringConfig(config);
    const name = values[`${prefix}backend`];
    if (typeof name !== 'string' || name === '') {
      throw new ValidationError(`The config has no "${prefix}backend" naming a backend.`);
    }
    const argPrefix = `${prefix}arguments.`;
    const args: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (key.startsWith(argPrefix)) {
        args[
          key.slice(argPrefix.length).replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
        ] = value;
      }
    }
    const factory = await loadBackendFactory(name);
    const expirationTime = (values[`${prefix}expirationTime`] ??
      values[`${prefix}expiration_time`]) as Duration | null | undefined;
    const replace =
      values[`${prefix}replaceExistingBackend`] ?? values[`${prefix}replace_existing_backend`];
    return this.configure(factory(args), {
      expirationTime: expirationTime ?? null,
      replaceExistingBackend: replace === true,
    });
  }

  /** Puts a proxy in front of the current backend (the new proxy becomes outermost). */
  wrap(proxy: ProxyBackend | (new () => ProxyBackend)): void {
    const backend = this.backend;
    const instance = typeof proxy === 'function' ? new proxy() : proxy;
    if (!(instance instanceof ProxyBackend)) {
      throw new ValidationError('wrap() takes a ProxyBackend instance or subclass.');
    }
    this.#backend = instance.wrap(backend);
  }

  /** Whether `configure()` has given this region a backend. */
  get isConfigured(): boolean {
    return this.#backend !== undefined;
  }

  /** The backend, outermost proxy included. */
  get backend(): CacheBackend {
    return this.#backend ?? this.#notConfigured();
  }

  /** The backend behind every proxy. */
  get actualBackend(): CacheBackend {
    let backend = this.backend;
    while (backend instanceof ProxyBackend) backend = backend.proxied;
    return backend;
  }

  /** The invalidation strategy in use. */
  get regionInvalidator(): RegionInvalidationStrategy {
    return this.#invalidator;
  }

  /** The region's expiration time in seconds, or `null` for never. */
  get expirationTime(): number | null {
    return this.#expiration;
  }

  /** The number of keys whose in-process creation lock is held right now. */
  get lockedKeyCount(): number {
    return this.#locks.size;
  }

  #notConfigured(): never {
    if (this.#closed) {
      throw new DogpileError(
        'ERR_REGION_CLOSED',
        `Region ${this.name} was closed. Configure it again (with replaceExistingBackend) or make a new region.`,
      );
    }
    throw new RegionNotConfiguredError(this.name);
  }

  /** Closes the backend (and every proxy in front of it). The region cannot be used afterwards. */
  async close(): Promise<void> {
    const backend = this.#backend;
    if (!backend) return;
    this.#backend = undefined;
    this.#closed = true;
    // Background regenerations still write to this backend; it stays open until they are done.
    await this.#background.drain();
    await backend.close();
  }

  /** The number of background regenerations running right now. */
  get backgroundRefreshCount(): number {
    return this.#background.size;
  }

  // ---------------------------------------------------------------- reading and writing

  #mangle(key: string): string {
    if (typeof key !== 'string') {
      throw new ValidationError(`Cache keys are strings; got ${typeof key}.`);
    }
    return this.#keyMangler === undefined ? key : this.#keyMangler(key);
  }

  #expirationFor(value: Duration | undefined): number | null {
    if (value === undefined) return this.#expiration;
    const seconds = toSeconds(value, 'expirationTime');
    return seconds === -1 ? null : seconds;
  }

  /**
   * Reads `key`. With a serializer, a read joins one of the same key already in flight (see
   * {@link SharedReads}); each caller still deserializes its own copy of the payload. A store of
   * objects (no serializer) is read per caller: its `get` may hand out copies on purpose.
   */
  #read(backend: CacheBackend, key: string): Promise<CachedValue | NoValue> {
    const shared = this.#shared;
    return shared === undefined ? backend.get(key) : shared.read(backend, key);
  }

  /**
   * Reads `key` for the holder of its in-process lock, handing the read to the callers waiting
   * for that lock, so the whole process reads the key once when another process's creator is done.
   */
  #readAndShare(backend: CacheBackend, key: string): Promise<CachedValue | NoValue> {
    const shared = this.#shared;
    if (shared === undefined) return backend.get(key);
    if (this.#locks.waiting(key) === 0) return shared.read(backend, key);
    const handed = shared.handOut(backend, key);
    this.#locks.share(key, handed);
    return shared.own(handed);
  }

  /**
   * Makes the next read of `key` go to the backend, after a write or delete through here, and
   * takes back a read handed to the callers waiting for the key's lock, which may predate it.
   */
  #forgetRead(key: string): void {
    if (this.#shared === undefined) return;
    this.#shared.forget(key);
    this.#locks.unshare(key);
  }

  async #readMulti(
    backend: CacheBackend,
    keys: readonly string[],
  ): Promise<Array<CachedValue | NoValue>> {
    const shared = this.#shared;
    if (shared === undefined) return backend.getMulti(keys);
    const raw = await backend.getSerializedMulti(keys);
    return raw.map((bytes, i) => shared.decode(bytes, keys[i]!));
  }

  async #write(backend: CacheBackend, key: string, value: CachedValue): Promise<void> {
    const shared = this.#shared;
    if (shared === undefined) return backend.set(key, value);
    const payload = shared.serializer.serialize(value.payload);
    this.#forgetRead(key);
    try {
      await backend.setSerialized(key, joinCachedValue(value.metadata, payload));
    } finally {
      // A read that started while the write was in flight may have missed it.
      this.#forgetRead(key);
    }
    // Callers waiting for this key's lock (for the creator that wrote this, usually) take the
    // value from here rather than each read it back.
    if (this.#locks.waiting(key) > 0) {
      this.#locks.share(key, shared.written(value.metadata, payload, key));
    }
  }

  async #writeMulti(backend: CacheBackend, mapping: Map<string, CachedValue>): Promise<void> {
    if (mapping.size === 0) return;
    if (this.#serializer === undefined) return backend.setMulti(mapping);
    const bytes = new Map<string, Uint8Array>();
    for (const [key, value] of mapping) {
      this.#forgetRead(key);
      bytes.set(key, serializeCachedValue(value, this.#serializer));
    }
    try {
      await backend.setSerializedMulti(bytes);
    } finally {
      for (const key of mapping.keys()) this.#forgetRead(key);
    }
  }

  #metadata(): CacheMetadata {
    return { ct: this.#now(), v: VALUE_VERSION };
  }

  /** A present value that is not expired or invalidated for a read with `expiration`. */
  #usable(value: CachedValue | NoValue, expiration: number | null): value is CachedValue {
    if (value === NO_VALUE) return false;
    const ct = (value as CachedValue).metadata.ct;
    return (
      (value as CachedValue).metadata.v === VALUE_VERSION &&
      (expiration === null || this.#now() - ct <= expiration) &&
      !this.#invalidator.isInvalidated(ct)
    );
  }

  /**
   * The value for `key`, or `NO_VALUE` when it is missing, expired or invalidated (unless
   * `ignoreExpiration`).
   */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | NoValue> {
    const value = await this.getValueMetadata<T>(key, options);
    return value === null ? NO_VALUE : value.payload;
  }

  /** The stored {@link CachedValue} (payload and metadata) for `key`, or `null` as {@link get} would give `NO_VALUE`. */
  async getValueMetadata<T = unknown>(
    key: string,
    options?: GetOptions,
  ): Promise<CachedValue<T> | null> {
    const backend = this.#backend ?? this.#notConfigured();
    // Parsed before the read, so a bad expirationTime is an error whether or not the key is cached.
    const expiration = this.#expirationFor(options?.expirationTime);
    const value = await this.#read(backend, this.#mangle(key));
    if (value === NO_VALUE) return null;
    if (options?.ignoreExpiration) return value as CachedValue<T>;
    return this.#usable(value, expiration) ? (value as CachedValue<T>) : null;
  }

  /** Values for `keys` in order, `NO_VALUE` where {@link get} would give it; one backend call. */
  async getMulti<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Array<T | NoValue>> {
    if (keys.length === 0) return [];
    const backend = this.#backend ?? this.#notConfigured();
    const values = await this.#readMulti(
      backend,
      keys.map((key) => this.#mangle(key)),
    );
    const expiration = this.#expirationFor(options?.expirationTime);
    const ignore = options?.ignoreExpiration === true;
    return values.map((value) =>
      value !== NO_VALUE && (ignore || this.#usable(value, expiration))
        ? ((value as CachedValue).payload as T)
        : NO_VALUE,
    );
  }

  /** Stores `value` under `key` now, without locking. */
  async set(key: string, value: unknown): Promise<void> {
    const backend = this.#backend ?? this.#notConfigured();
    await this.#write(backend, this.#mangle(key), new CachedValue(value, this.#metadata()));
  }

  /** Stores several values in one backend call; accepts a `Map` or a plain object. */
  async setMulti(
    mapping: ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const backend = this.#backend ?? this.#notConfigured();
    const metadata = this.#metadata();
    const entries = mapping instanceof Map ? mapping.entries() : Object.entries(mapping);
    const out = new Map<string, CachedValue>();
    for (const [key, value] of entries)
      out.set(this.#mangle(key), new CachedValue(value, metadata));
    await this.#writeMulti(backend, out);
  }

  /** Removes `key`; removing a missing key is fine. */
  async delete(key: string): Promise<void> {
    const backend = this.#backend ?? this.#notConfigured();
    const mangled = this.#mangle(key);
    this.#forgetRead(mangled);
    try {
      await backend.delete(mangled);
    } finally {
      this.#forgetRead(mangled);
    }
  }

  /** Removes several keys in one backend call. */
  async deleteMulti(keys: readonly string[]): Promise<void> {
    const backend = this.#backend ?? this.#notConfigured();
    if (keys.length === 0) return;
    const mangled = keys.map((key) => this.#mangle(key));
    for (const key of mangled) this.#forgetRead(key);
    try {
      await backend.deleteMulti(mangled);
    } finally {
      for (const key of mangled) this.#forgetRead(key);
    }
  }

  /**
   * Retires every value created before now. Hard (the default): they become misses. Soft: they
   * become stale, so one caller regenerates while the others keep getting the old value (needs
   * an expiration time). With the default strategy this holds in this process only.
   */
  async invalidate(options: { hard?: boolean } = {}): Promise<void> {
    await this.#invalidator.invalidate(options.hard ?? true);
  }

  /** Whether a creator for `key` is running right now, here or (with a distributed mutex) anywhere. */
  async keyIsLocked(key: string): Promise<boolean> {
    const backend = this.#backend ?? this.#notConfigured();
    return this.#mutex(backend, this.#mangle(key)).locked();
  }

  #mutex(backend: CacheBackend, key: string): CacheMutex {
    const remote = backend.getMutex(key);
    if (remote instanceof NullMutex) return remote;
    return new RegionMutex(this.#locks, key, remote);
  }

  // ---------------------------------------------------------------- the dogpile lock

  /**
   * The value for `key`; when it is missing or stale, exactly one caller runs `creator` and stores
   * its result. The others wait for it when there is no value, or get the stale value at once.
   */
  async getOrCreate<T>(
    key: string,
    creator: Creator<T>,
    options?: GetOrCreateOptions<T>,
  ): Promise<T> {
    const backend = this.#backend ?? this.#notConfigured();
    const mangled = this.#keyMangler === undefined ? key : this.#mangle(key);
    const expiration =
      options?.expirationTime === undefined
        ? this.#expiration
        : this.#expirationFor(options.expirationTime);
    let value: CachedValue | NoValue;
    try {
      const shared = this.#shared;
      value =
        shared === undefined ? await backend.get(mangled) : await shared.read(backend, mangled);
    } catch (error) {
      // Nothing runs here unless the read failed, so a hit pays nothing for fail-safe.
      value = this.#readFailed(error, key, options);
    }
    if (this.#usable(value, expiration)) {
      if (hitChannel.hasSubscribers) publishHit(this.name, key);
      if (this.#earlyBeta === 0 && options?.earlyRefresh === undefined) return value.payload as T;
      return this.#refreshEarly(backend, key, mangled, value, creator, options, expiration);
    }
    if (missChannel.hasSubscribers) publishMiss(this.name, key, !this.#isMiss(value));
    return this.#createOrWait(backend, key, mangled, value, creator, options, expiration);
  }

  /** A fresh value was read with early refresh on: flips the coin, regenerating if it says so. */
  #refreshEarly<T>(
    backend: CacheBackend,
    key: string,
    mangled: string,
    value: CachedValue,
    creator: Creator<T>,
    options: GetOrCreateOptions<T> | undefined,
    expiration: number | null,
  ): T | Promise<T> {
    const beta =
      options?.earlyRefresh === undefined
        ? this.#earlyBeta
        : earlyRefreshBeta(options.earlyRefresh, 'earlyRefresh');
    if (
      beta === 0 ||
      expiration === null ||
      !shouldRefreshEarly(value.metadata, expiration, this.#now(), beta, this.#random)
    ) {
      return value.payload as T;
    }
    // The value in hand is still fresh: a failed refresh must not fail the read. It is reported,
    // and the next reads flip the coin again.
    const refreshed = this.#createOrWait(
      backend,
      key,
      mangled,
      value,
      creator,
      options,
      expiration,
      true,
    );
    return refreshed.catch((error: unknown) => {
      if (error instanceof ValidationError) throw error;
      reportError({ operation: 'earlyRefresh', region: this.name, key, error });
      return value.payload as T;
    });
  }

  #softInvalidationNeedsExpiration(): never {
    throw new ValidationError(
      'Soft invalidation needs an expiration time: configure expirationTime, pass one to this call, or use invalidate({ hard: true }).',
    );
  }

  /** No value that could be served, even stale: missing, of another format, or hard-invalidated. */
  #isMiss(value: CachedValue | NoValue): boolean {
    return (
      value === NO_VALUE ||
      (value as CachedValue).metadata.v !== VALUE_VERSION ||
      this.#invalidator.isHardInvalidated((value as CachedValue).metadata.ct)
    );
  }

  /** The `[payload, createdTime]` the Lock sees, soft invalidation making a value look expired. */
  #valueAndCreated(value: CachedValue | NoValue, expiration: number | null, missAsZero: boolean) {
    if (this.#isMiss(value)) {
      if (missAsZero) return [NO_VALUE, 0] as const;
      throw NEED_REGENERATION;
    }
    const cached = value as CachedValue;
    let ct = cached.metadata.ct;
    if (this.#invalidator.isSoftInvalidated(ct)) {
      if (expiration === null) this.#softInvalidationNeedsExpiration();
      ct = this.#now() - expiration - 0.0001;
    }
    return [cached.payload, ct] as const;
  }

  async #createOrWait<T>(
    backend: CacheBackend,
    key: string,
    mangled: string,
    first: CachedValue | NoValue,
    creator: Creator<T>,
    options: GetOrCreateOptions<T> | undefined,
    expiration: number | null,
    early = false,
    guard?: CreationGuard,
  ): Promise<T> {
    if (typeof creator !== 'function') notAFunction('creator', creator);
    // With a lock wait timeout, a signal, fail-safe or stale-if-error, the call runs under a
    // guard (see #guarded) that threads them through the waits, reads and writes below; without
    // any of them it takes exactly the path below, unguarded.
    if (guard === undefined) {
      const settings = callGuardSettings(this.#guardSettings, options);
      if (settings !== undefined) {
        guard = new CreationGuard(key, first, this.#isMiss(first), settings);
        return this.#guarded(
          guard,
          backend,
          key,
          mangled,
          first,
          creator,
          options,
          expiration,
          early,
        );
      }
    } else creator = guard.watchCreator(creator);
    const args = (options?.creatorArgs ?? []) as never[];
    let prefetched: CachedValue | NoValue | undefined = first;
    // An early refresh shows the Lock its fresh value as stale, once, to take the stale path.
    let showAsStale = early;
    let sawValue = false;

    // With no value to serve, the Lock would queue every caller on the mutex and hand it over
    // waiter by waiter, each re-reading in turn. Instead the first caller takes the local lock
    // right now, before any await lets the others in, and the others wait for its release all
    // together and read once: usually the value is there. Creating still needs the mutex, and the
    // Lock still re-reads after taking it, so there is still one creator at a time.
    let preheld = false;
    if (guard?.bypass !== true && this.#isMiss(first)) {
      for (;;) {
        if (this.#locks.tryAcquire(mangled)) {
          preheld = true;
          break;
        }
        const waitStarted = lockWaitChannel.hasSubscribers ? this.#clock.now() : -1;
        const handoff = await this.#locks.waitForRelease(mangled, guard?.signal);
        if (waitStarted >= 0) publishLockWait(this.name, key, this.#clock.now() - waitStarted);
        const read =
          handoff instanceof HandedRead && this.#shared !== undefined
            ? this.#shared.handed(handoff, backend, mangled)
            : this.#read(backend, mangled);
        const value = await this.#guardRead(read, guard, key, handoff);
        if (this.#usable(value, expiration)) return value.payload as T;
        prefetched = value;
        if (!this.#isMiss(value)) break;
      }
    }

    const getValue = async (): Promise<ValueAndCreated<T>> => {
      let value: CachedValue | NoValue;
      if (prefetched === undefined) {
        value = await this.#guardRead(this.#read(backend, mangled), guard, key);
      } else {
        value = prefetched;
        prefetched = undefined;
      }
      sawValue = false;
      const found = this.#valueAndCreated(value, expiration, false) as ValueAndCreated<T>;
      sawValue = true;
      if (!showAsStale) return found;
      showAsStale = false;
      return [found[0], this.#now() - (expiration ?? 0) - 0.0001];
    };

    const reason = () => (early ? 'early' : sawValue ? 'stale' : 'miss');
    // Measured when early refresh is on for the region or this call, so a later read can use it.
    const callBeta =
      options?.earlyRefresh === undefined
        ? 0
        : earlyRefreshBeta(options.earlyRefresh, 'earlyRefresh');
    const measure = this.#earlyBeta > 0 || callBeta > 0;
    const genValue = async (background = false): Promise<ValueAndCreated<T>> => {
      const created = await runCreator(
        () => creator(...args),
        this.#clock,
        measure,
        this.name,
        key,
        reason(),
        background,
      );
      const payload = created.payload;
      const value = new CachedValue(payload, this.#metadata());
      if (measure) value.metadata.cd = created.seconds;
      if (expiration === null && this.#invalidator.wasSoftInvalidated()) {
        this.#softInvalidationNeedsExpiration();
      }
      if (!options?.shouldCacheFn || options.shouldCacheFn(payload)) {
        await this.#store(backend, key, mangled, value, guard);
      }
      return [payload, value.metadata.ct];
    };

    const asyncCreator = this.#asyncCreator(backend, key, options, args, creator, genValue, reason);
    const onServeStale = early
      ? undefined
      : (handedOver: boolean) => publishStaleServed(this.name, key, handedOver);

    const remote =
      guard === undefined
        ? this.#timeRemoteWaits(backend.getMutex(mangled), key)
        : this.#guardedMutex(guard, backend, key, mangled);
    if (remote instanceof NullMutex) {
      if (preheld) this.#locks.release(mangled);
      return new Lock<T>(
        remote,
        genValue,
        getValue,
        expiration,
        asyncCreator,
        this.#lockOptions(key, onServeStale),
      ).run();
    }
    const mutex = new RegionMutex(this.#locks, mangled, remote, preheld);
    try {
      if (preheld && remote?.waitForRelease) {
        // Another process may be creating. Queueing on its lock would hand the lock from process
        // to process, each taking it only to find the value; wait for the release and read, as
        // the in-process waiters above do.
        const started = this.#clock.now();
        for (;;) {
          if (await remote.acquire(false)) {
            mutex.remoteTaken();
            break;
          }
          const released = await remote.waitForRelease(
            guard?.signal === undefined ? undefined : { signal: guard.signal },
          );
          const value = await this.#guardRead(this.#readAndShare(backend, mangled), guard, key);
          if (this.#usable(value, expiration)) return value.payload as T;
          // The callers waiting here would find it no better; they read for themselves.
          this.#locks.unshare(mangled);
          prefetched = value;
          if (!this.#isMiss(value)) break;
          if (!released) throw new LockTimeoutError(key, this.#clock.now() - started);
        }
      }
      return await new Lock<T>(
        mutex,
        genValue,
        getValue,
        expiration,
        asyncCreator,
        this.#lockOptions(key, onServeStale, guard?.signal),
      ).run();
    } finally {
      await mutex.abandon();
    }
  }

  /**
   * Runs `#createOrWait` under `guard`, then deals with what went wrong: a lock wait that timed
   * out (read once more; then throw, or create without the lock), a creator that threw with a
   * value `staleIfError` may serve.
   */
  async #guarded<T>(
    guard: CreationGuard,
    backend: CacheBackend,
    key: string,
    mangled: string,
    first: CachedValue | NoValue,
    creator: Creator<T>,
    options: GetOrCreateOptions<T> | undefined,
    expiration: number | null,
    early: boolean,
  ): Promise<T> {
    try {
      try {
        return await this.#createOrWait(
          backend,
          key,
          mangled,
          first,
          creator,
          options,
          expiration,
          early,
          guard,
        );
      } catch (error) {
        if (!guard.isLockTimeout(error)) throw error;
        if (guard.onLockTimeout === 'create') {
          // Through a NullMutex Lock: it reads once more, and creates and stores if still missing.
          guard.bypass = true;
          return await this.#createOrWait(
            backend,
            key,
            mangled,
            NO_VALUE,
            creator,
            options,
            expiration,
            early,
            guard,
          );
        }
        // The holder may have stored the value just as the wait ran out.
        const value = await this.#guardRead(this.#read(backend, mangled), guard, key);
        if (this.#usable(value, expiration)) return value.payload as T;
        throw error;
      }
    } catch (error) {
      const stale = guard.lastSeen;
      if (
        guard.staleIfError === null ||
        !guard.isCreatorError(error) ||
        !servableOnError(stale, this.#now(), expiration, guard.staleIfError, this.#invalidator)
      ) {
        throw error;
      }
      reportError({ operation: 'creator', region: this.name, key, error });
      return stale.payload as T;
    } finally {
      guard.dispose();
    }
  }

  /** A failed read on the hit path: a miss with fail-safe on (reported), else the error. */
  #readFailed(error: unknown, key: string, options: FailSafeOptions | undefined): NoValue {
    const failSafe =
      options?.failSafe === undefined
        ? (this.#guardSettings?.failSafe ?? false)
        : parseFailSafe(options.failSafe);
    if (!failSafe) throw error;
    reportError({ operation: 'read', region: this.name, key, error });
    return NO_VALUE;
  }

  /**
   * A read on the slow path of a guarded call: recorded for stale-if-error and, with fail-safe, a
   * failure is reported and read as a miss. A waiter that finds no value after a holder's release
   * takes the value the holder handed over, if any: with the backend failing it cannot read what
   * the holder created, and would otherwise create it again, each waiter in turn.
   */
  #guardRead(
    read: Promise<CachedValue | NoValue>,
    guard: CreationGuard | undefined,
    key: string,
    handoff?: unknown,
  ): Promise<CachedValue | NoValue> {
    // Not async, so an unguarded read costs its waiters no extra turns of the microtask queue.
    if (guard === undefined) return read;
    return this.#guardedRead(read, guard, key, handoff);
  }

  async #guardedRead(
    read: Promise<CachedValue | NoValue>,
    guard: CreationGuard,
    key: string,
    handoff: unknown,
  ): Promise<CachedValue | NoValue> {
    let value: CachedValue | NoValue;
    if (!guard.failSafe) value = await read;
    else {
      try {
        value = await read;
      } catch (error) {
        reportError({ operation: 'read', region: this.name, key, error });
        value = NO_VALUE;
      }
      if (handoff instanceof CachedValue && this.#isMiss(value)) value = handoff;
    }
    guard.saw(value);
    return value;
  }

  /** Stores a created value; with fail-safe a failed write is reported and the value kept. */
  async #store(
    backend: CacheBackend,
    key: string,
    mangled: string,
    value: CachedValue,
    guard: CreationGuard | undefined,
  ): Promise<void> {
    if (guard === undefined || !guard.failSafe) return this.#write(backend, mangled, value);
    this.#locks.offer(mangled, value);
    try {
      await this.#write(backend, mangled, value);
    } catch (error) {
      reportError({ operation: 'write', region: this.name, key, error });
    }
  }

  /** The distributed mutex of a guarded call: none once it creates without the lock. */
  #guardedMutex(
    guard: CreationGuard,
    backend: CacheBackend,
    key: string,
    mangled: string,
  ): CacheMutex | null {
    if (guard.bypass) return NO_LOCK;
    const remote = this.#timeRemoteWaits(backend.getMutex(mangled), key);
    return guard.failSafe ? FailSafeMutex.wrap(remote, key) : remote;
  }

  #lockOptions(
    key: string,
    onServeStale?: (handedOver: boolean) => void,
    signal?: AbortSignal,
  ): LockOptions {
    const options: LockOptions = { now: () => this.#now(), key, onServeStale };
    // The Lock's blocking acquire is one of the waits the lock wait timeout and the signal stop.
    if (signal !== undefined) options.acquireOptions = { signal };
    return options;
  }

  /**
   * The Lock's async creator for this call, or `null` to regenerate in the foreground: the
   * user's `asyncCreationRunner` when there is one, else the built-in background runner.
   */
  #asyncCreator<T>(
    backend: CacheBackend,
    key: string,
    options: GetOrCreateOptions<T> | undefined,
    args: never[],
    creator: Creator<T>,
    genValue: (background: boolean) => Promise<unknown>,
    reason: () => RegenerationReason,
  ): AsyncCreator | null {
    const background =
      options?.backgroundRefresh === undefined
        ? this.#backgroundRefresh
        : checkBackgroundRefresh(options.backgroundRefresh);
    if (!background) return null;
    const runner = this.asyncCreationRunner;
    if (runner) {
      const regenerate = async () => {
        const created = await runCreator(
          () => creator(...args),
          this.#clock,
          false,
          this.name,
          key,
          reason(),
          true,
        );
        return created.payload;
      };
      return (mutex) => runner(this, key, regenerate, mutex);
    }
    return (mutex) =>
      this.#background.start(
        // A region closed or re-configured meanwhile gets no write from an old regeneration.
        async () => (this.#backend === backend ? genValue(true) : undefined),
        mutex,
        (error, operation) => reportError({ operation, region: this.name, key, error }),
      );
  }

  /** With someone listening on `dogpile:lock-wait`, the distributed mutex with its waits timed. */
  #timeRemoteWaits(remote: CacheMutex | null, key: string): CacheMutex | null {
    if (remote === null || remote instanceof NullMutex || !lockWaitChannel.hasSubscribers) {
      return remote;
    }
    return timeWaits(remote, this.#clock, (ms) => publishLockWait(this.name, key, ms));
  }

  /** The mutex of one `getOrCreateMulti` key, its waits timed when someone listens. */
  #multiMutex(backend: CacheBackend, key: string, mangled: string): CacheMutex {
    const mutex = this.#mutex(backend, mangled);
    if (mutex instanceof NullMutex || !lockWaitChannel.hasSubscribers) return mutex;
    const hasRemote = backend.getMutex(mangled) !== null;
    return timeWaits(
      mutex,
      this.#clock,
      (ms) => publishLockWait(this.name, key, ms),
      // An uncontended in-process lock is taken at once: only report real waits.
      () => hasRemote || this.#locks.isLocked(mangled),
    );
  }

  /** Publishes a hit or a miss for each key a `getOrCreateMulti` read. */
  #publishReads(
    origToMangled: ReadonlyMap<string, string>,
    values: ReadonlyMap<string, CachedValue | NoValue>,
    expiration: number | null,
  ): void {
    for (const [orig, mangled] of origToMangled) {
      const value = values.get(mangled)!;
      if (this.#usable(value, expiration)) publishHit(this.name, orig);
      else publishMiss(this.name, orig, !this.#isMiss(value));
    }
  }

  /**
   * Values for `keys`, in order, with one backend `getMulti`. Keys that are missing or stale are
   * created together: `creator` is called once with just those keys, sorted, and returns their
   * values in that order. Locks are taken in sorted key order, so concurrent calls cannot deadlock.
   */
  async getOrCreateMulti<T>(
    keys: readonly string[],
    creator: (...keys: string[]) => readonly T[] | Promise<readonly T[]>,
    options?: GetOrCreateMultiOptions<T>,
  ): Promise<T[]> {
    const backend = this.#backend ?? this.#notConfigured();
    if (typeof creator !== 'function') notAFunction('creator', creator);
    if (keys.length === 0) return [];
    const expiration = this.#expirationFor(options?.expirationTime);
    const sortedUnique = [...new Set(keys)].sort();
    const origToMangled = new Map<string, string>();
    for (const key of sortedUnique) origToMangled.set(key, this.#mangle(key));
    const mangledKeys = [...origToMangled.values()];
    const settings = callGuardSettings(this.#guardSettings, options);
    const fetched = await this.#readMultiGuarded(backend, mangledKeys, settings);
    const values = new Map<string, CachedValue | NoValue>();
    mangledKeys.forEach((mangled, i) => {
      values.set(mangled, fetched[i]!);
    });
    const wait = this.#multiWait(sortedUnique[0]!, values, settings);
    /** Keys whose lock wait gave up with `onLockTimeout: 'create'`: created without their lock. */
    const bypassed = new Set<string>();
    if (hitChannel.hasSubscribers || missChannel.hasSubscribers) {
      this.#publishReads(origToMangled, values, expiration);
    }

    const mutexes = new Map<string, CacheMutex>();
    const never = async (): Promise<ValueAndCreated<unknown>> => {
      throw new DogpileError(
        'ERR_LOCK_STATE',
        'getOrCreateMulti creates through its async creator only.',
      );
    };
    try {
      for (const [orig, mangled] of origToMangled) {
        const lockStarted = this.#clock.now();
        if (wait !== undefined) wait.key = orig;
        try {
          await new Lock<unknown>(
            settings?.failSafe
              ? FailSafeMutex.wrap(this.#multiMutex(backend, orig, mangled), orig)!
              : this.#multiMutex(backend, orig, mangled),
            never,
            () => this.#valueAndCreated(values.get(mangled)!, expiration, true),
            expiration,
            (mutex) => {
              mutexes.set(orig, mutex);
            },
            this.#lockOptions(
              orig,
              (handedOver) => {
                // Handed over: this call creates the key itself, below.
                if (!handedOver) publishStaleServed(this.name, orig, false);
              },
              wait?.signal,
            ),
          ).run();
        } catch (error) {
          // The Lock here never runs a creator: a LockTimeoutError is always a wait giving up.
          if (!(wait?.isTimeout(error) || error instanceof LockTimeoutError)) throw error;
          await this.#multiGaveUp(error, backend, orig, mangled, values, settings, bypassed);
          continue;
        }
        if (!mutexes.has(orig) && this.#isMiss(values.get(mangled)!)) {
          // Neither a value nor the lock: the distributed mutex gave up on its own timeout.
          const error = new LockTimeoutError(orig, this.#clock.now() - lockStarted);
          await this.#multiGaveUp(error, backend, orig, mangled, values, settings, bypassed);
        }
      }

      if (mutexes.size > 0 || bypassed.size > 0) {
        const keysToGet = [...mutexes.keys(), ...bypassed].sort();
        let created: readonly T[];
        try {
          created = await runMultiCreator(
            () => creator(...keysToGet),
            this.#clock,
            this.name,
            keysToGet,
            (key) => (this.#isMiss(values.get(origToMangled.get(key)!)!) ? 'miss' : 'stale'),
          );
        } catch (error) {
          const stale = keysToGet.map((key) => values.get(origToMangled.get(key)!)!);
          if (!this.#staleServable(error, settings, stale, expiration, keysToGet)) throw error;
          return keys.map(
            (key) => (values.get(origToMangled.get(key)!) as CachedValue).payload as T,
          );
        }
        if (!Array.isArray(created) || created.length !== keysToGet.length) {
          throw new ValidationError(
            `The getOrCreateMulti creator must return an array of ${keysToGet.length} values, one per key it was given; it returned ${Array.isArray(created) ? `${created.length} values` : typeof created}.`,
          );
        }
        if (expiration === null && this.#invalidator.wasSoftInvalidated()) {
          this.#softInvalidationNeedsExpiration();
        }
        const metadata = this.#metadata();
        const toStore = new Map<string, CachedValue>();
        keysToGet.forEach((key, i) => {
          const mangled = origToMangled.get(key)!;
          const value = new CachedValue(created[i], metadata);
          values.set(mangled, value);
          if (!options?.shouldCacheFn || options.shouldCacheFn(created[i] as T))
            toStore.set(mangled, value);
        });
        await this.#writeMultiGuarded(backend, toStore, settings, keysToGet);
      }
      return keys.map((key) => (values.get(origToMangled.get(key)!) as CachedValue).payload as T);
    } finally {
      wait?.dispose();
      for (const mutex of mutexes.values()) await mutex.release();
    }
  }

  async #readMultiGuarded(
    backend: CacheBackend,
    keys: readonly string[],
    settings: GuardSettings | undefined,
  ): Promise<Array<CachedValue | NoValue>> {
    if (!settings?.failSafe) return this.#readMulti(backend, keys);
    try {
      return await this.#readMulti(backend, keys);
    } catch (error) {
      reportError({ operation: 'readMulti', region: this.name, key: keys.join(' '), error });
      return keys.map(() => NO_VALUE);
    }
  }

  async #writeMultiGuarded(
    backend: CacheBackend,
    mapping: Map<string, CachedValue>,
    settings: GuardSettings | undefined,
    keys: readonly string[],
  ): Promise<void> {
    if (!settings?.failSafe) return this.#writeMulti(backend, mapping);
    try {
      await this.#writeMulti(backend, mapping);
    } catch (error) {
      reportError({ operation: 'writeMulti', region: this.name, key: keys.join(' '), error });
    }
  }

  /** The waiting budget of a `getOrCreateMulti` call, when it has one and a key is missing. */
  #multiWait(
    key: string,
    values: ReadonlyMap<string, CachedValue | NoValue>,
    settings: GuardSettings | undefined,
  ): LockWait | undefined {
    if (settings === undefined || (settings.lockWaitTimeout === null && !settings.signal)) {
      return undefined;
    }
    for (const value of values.values()) {
      if (this.#isMiss(value)) return new LockWait(key, settings.lockWaitTimeout, settings.signal);
    }
    return undefined;
  }

  /**
   * A `getOrCreateMulti` key whose lock wait gave up: read once more (the holder may have stored
   * it); a value, even stale, is served; else `onLockTimeout` says throw, or create it here
   * without its lock.
   */
  async #multiGaveUp(
    error: unknown,
    backend: CacheBackend,
    key: string,
    mangled: string,
    values: Map<string, CachedValue | NoValue>,
    settings: GuardSettings | undefined,
    bypassed: Set<string>,
  ): Promise<void> {
    const [value] = await this.#readMultiGuarded(backend, [mangled], settings);
    if (!this.#isMiss(value!)) {
      values.set(mangled, value!);
      return;
    }
    if (settings?.onLockTimeout !== 'create') throw error;
    bypassed.add(key);
  }

  /** Whether `staleIfError` serves `stale` (one value per key) instead of the creator's error. */
  #staleServable(
    error: unknown,
    settings: GuardSettings | undefined,
    stale: ReadonlyArray<CachedValue | NoValue>,
    expiration: number | null,
    keys: readonly string[],
  ): boolean {
    const window = settings?.staleIfError ?? null;
    if (window === null) return false;
    const now = this.#now();
    if (!stale.every((v) => servableOnError(v, now, expiration, window, this.#invalidator))) {
      return false;
    }
    reportError({ operation: 'creator', region: this.name, key: keys.join(' '), error });
    return true;
  }

  // ---------------------------------------------------------------- decorators

  /**
   * Wraps `fn` so that each call is served by {@link getOrCreate}, keyed on its arguments
   * (`namespace|arg1 arg2`, the namespace defaulting to the function's name). The wrapped
   * function also has `.get`, `.set`, `.invalidate`, `.refresh` and `.original`.
   *
   * @example
   * const getUser = region.cacheOnArguments({ expirationTime: '1m' })(async function getUser(id: number) {
   *   return db.loadUser(id);
   * });
   * await getUser(7);            // created once, then cached
   * await getUser.invalidate(7); // dropped
   */
  cacheOnArguments<R>(
    options: CacheOnArgumentsOptions<R> = {},
  ): <A extends unknown[]>(fn: (...args: A) => R | Promise<R>) => CachedFunction<A, R> {
    return (fn) => makeCachedFunction(this, fn, options);
  }

  /**
   * Wraps `fn(...args) → values` so that each argument is cached under its own key and only the
   * missing ones are passed to `fn`, through {@link getOrCreateMulti}. With `asdict: true`, `fn`
   * returns a `Map` (or object) from argument to value and so does the wrapped function.
   */
  cacheMultiOnArguments<R>(
    options: CacheMultiOnArgumentsOptions<R> & { asdict: true },
  ): <A>(
    fn: (...args: A[]) => MultiDictResult<A, R> | Promise<MultiDictResult<A, R>>,
  ) => CachedMultiFunction<A, R, Map<A, R>>;
  cacheMultiOnArguments<R>(
    options?: CacheMultiOnArgumentsOptions<R> & { asdict?: false },
  ): <A>(
    fn: (...args: A[]) => readonly R[] | Promise<readonly R[]>,
  ) => CachedMultiFunction<A, R, R[]>;
  cacheMultiOnArguments<R>(
    options: CacheMultiOnArgumentsOptions<R> = {},
  ): <A>(fn: (...args: A[]) => unknown) => CachedMultiFunction<A, R, never> {
    return <A>(fn: (...args: A[]) => unknown) =>
      makeCachedMultiFunction<A, R>(this, fn, options) as unknown as CachedMultiFunction<
        A,
        R,
        never
      >;
  }
}

function checkBackgroundRefresh(value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new ValidationError(`backgroundRefresh must be true or false; got ${typeof value}.`);
  }
  return value === true;
}

/** Makes a new {@link CacheRegion}; the same as `new CacheRegion(options)`. */
export function makeRegion(options?: RegionOptions): CacheRegion {
  return new CacheRegion(options);
}
