import type { CacheBackend, KeyMangler } from './backend.js';
import { getBackendFactory, loadBackendFactory } from './backend-registry.js';
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
import { type Duration, toSeconds } from './duration.js';
import {
  CantDeserializeError,
  DogpileError,
  LockTimeoutError,
  RegionAlreadyConfiguredError,
  RegionNotConfiguredError,
  ValidationError,
} from './errors.js';
import { reportError } from './instrumentation.js';
import { DefaultInvalidationStrategy, type RegionInvalidationStrategy } from './invalidation.js';
import {
  type FunctionKeyGenerator,
  type FunctionMultiKeyGenerator,
  functionKeyGenerator,
  functionMultiKeyGenerator,
} from './key-generators.js';
import { KeyedLocks } from './keyed-locks.js';
import { Lock, NeedRegenerationError, type ValueAndCreated } from './lock.js';
import { type CacheMutex, NullMutex } from './mutex.js';
import { NO_VALUE, type NoValue } from './no-value.js';
import { ProxyBackend } from './proxy-backend.js';
import { RegionMutex } from './region-mutex.js';
import type { Serializer } from './serializer.js';
import { deserializeCachedValue, serializeCachedValue } from './wire-format.js';

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
export interface RegionOptions {
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
  /** Regenerates stale values in the background; see {@link AsyncCreationRunner}. Default: none. */
  asyncCreationRunner?: AsyncCreationRunner;
  /** The time source, for tests. Default: the system clock. */
  clock?: Clock;
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
export interface GetOrCreateOptions<T> {
  /** Overrides the region's expiration time for this call only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Called with a newly created value; return `false` to return it without caching it. */
  shouldCacheFn?: (value: T) => boolean;
  /** Arguments passed to the creator. Default: none. */
  creatorArgs?: readonly unknown[];
}

/** Options of {@link CacheRegion.getOrCreateMulti}. */
export interface GetOrCreateMultiOptions<T> {
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
    if (options.regionInvalidator) this.#invalidator = options.regionInvalidator;
    const wrap = options.wrap ?? [];
    for (let i = wrap.length - 1; i >= 0; i--) this.wrap(wrap[i]!);
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
    await backend.close();
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

  #parse(bytes: Uint8Array | NoValue, key: string): CachedValue | NoValue {
    if (bytes === NO_VALUE) return NO_VALUE;
    try {
      return deserializeCachedValue(bytes as Uint8Array, this.#serializer!);
    } catch (error) {
      if (!(error instanceof CantDeserializeError)) throw error;
      // A value we cannot read is a miss: regenerating it is the only way to a correct value.
      reportError({ operation: 'deserialize', key, error });
      return NO_VALUE;
    }
  }

  async #read(backend: CacheBackend, key: string): Promise<CachedValue | NoValue> {
    if (this.#serializer === undefined) return backend.get(key);
    return this.#parse(await backend.getSerialized(key), key);
  }

  async #readMulti(
    backend: CacheBackend,
    keys: readonly string[],
  ): Promise<Array<CachedValue | NoValue>> {
    if (this.#serializer === undefined) return backend.getMulti(keys);
    const raw = await backend.getSerializedMulti(keys);
    return raw.map((bytes, i) => this.#parse(bytes, keys[i]!));
  }

  #write(backend: CacheBackend, key: string, value: CachedValue): Promise<void> {
    if (this.#serializer === undefined) return backend.set(key, value);
    return backend.setSerialized(key, serializeCachedValue(value, this.#serializer));
  }

  async #writeMulti(backend: CacheBackend, mapping: Map<string, CachedValue>): Promise<void> {
    if (mapping.size === 0) return;
    if (this.#serializer === undefined) return backend.setMulti(mapping);
    const bytes = new Map<string, Uint8Array>();
    for (const [key, value] of mapping)
      bytes.set(key, serializeCachedValue(value, this.#serializer));
    return backend.setSerializedMulti(bytes);
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
    await backend.delete(this.#mangle(key));
  }

  /** Removes several keys in one backend call. */
  async deleteMulti(keys: readonly string[]): Promise<void> {
    const backend = this.#backend ?? this.#notConfigured();
    if (keys.length === 0) return;
    await backend.deleteMulti(keys.map((key) => this.#mangle(key)));
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
    const value =
      this.#serializer === undefined
        ? await backend.get(mangled)
        : await this.#read(backend, mangled);
    if (this.#usable(value, expiration)) return value.payload as T;
    return this.#createOrWait(backend, key, mangled, value, creator, options, expiration);
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
  ): Promise<T> {
    if (typeof creator !== 'function') notAFunction('creator', creator);
    const args = (options?.creatorArgs ?? []) as never[];
    let prefetched: CachedValue | NoValue | undefined = first;

    // With no value to serve, the Lock would queue every caller on the mutex and hand it over
    // waiter by waiter, each re-reading in turn. Instead the first caller takes the local lock
    // right now, before any await lets the others in, and the others wait for its release all
    // together and read once: usually the value is there. Creating still needs the mutex, and the
    // Lock still re-reads after taking it, so there is still one creator at a time.
    let preheld = false;
    if (this.#isMiss(first)) {
      for (;;) {
        if (this.#locks.tryAcquire(mangled)) {
          preheld = true;
          break;
        }
        await this.#locks.waitForRelease(mangled);
        const value = await this.#read(backend, mangled);
        if (this.#usable(value, expiration)) return value.payload as T;
        prefetched = value;
        if (!this.#isMiss(value)) break;
      }
    }

    const getValue = async (): Promise<ValueAndCreated<T>> => {
      let value: CachedValue | NoValue;
      if (prefetched === undefined) value = await this.#read(backend, mangled);
      else {
        value = prefetched;
        prefetched = undefined;
      }
      return this.#valueAndCreated(value, expiration, false) as ValueAndCreated<T>;
    };

    const genValue = async (): Promise<ValueAndCreated<T>> => {
      const payload = await creator(...args);
      const value = new CachedValue(payload, this.#metadata());
      if (expiration === null && this.#invalidator.wasSoftInvalidated()) {
        this.#softInvalidationNeedsExpiration();
      }
      if (!options?.shouldCacheFn || options.shouldCacheFn(payload)) {
        await this.#write(backend, mangled, value);
      }
      return [payload, value.metadata.ct];
    };

    const runner = this.asyncCreationRunner;
    const asyncCreator = runner
      ? (mutex: CacheMutex) => runner(this, key, async () => creator(...args), mutex)
      : null;

    const remote = backend.getMutex(mangled);
    if (remote instanceof NullMutex) {
      if (preheld) this.#locks.release(mangled);
      return new Lock<T>(
        remote,
        genValue,
        getValue,
        expiration,
        asyncCreator,
        this.#lockOptions(key),
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
          const released = await remote.waitForRelease();
          const value = await this.#read(backend, mangled);
          if (this.#usable(value, expiration)) return value.payload as T;
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
        this.#lockOptions(key),
      ).run();
    } finally {
      await mutex.abandon();
    }
  }

  #lockOptions(key: string) {
    return { now: () => this.#now(), key };
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
    const fetched = await this.#readMulti(backend, mangledKeys);
    const values = new Map<string, CachedValue | NoValue>();
    mangledKeys.forEach((mangled, i) => {
      values.set(mangled, fetched[i]!);
    });

    const mutexes = new Map<string, CacheMutex>();
    const never = async (): Promise<ValueAndCreated<unknown>> => {
      throw new DogpileError(
        'ERR_LOCK_STATE',
        'getOrCreateMulti creates through its async creator only.',
      );
    };
    try {
      for (const [orig, mangled] of origToMangled) {
        await new Lock<unknown>(
          this.#mutex(backend, mangled),
          never,
          () => this.#valueAndCreated(values.get(mangled)!, expiration, true),
          expiration,
          (mutex) => {
            mutexes.set(orig, mutex);
          },
          this.#lockOptions(orig),
        ).run();
      }

      if (mutexes.size > 0) {
        const keysToGet = [...mutexes.keys()].sort();
        const created = await creator(...keysToGet);
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
        await this.#writeMulti(backend, toStore);
      }
      return keys.map((key) => (values.get(origToMangled.get(key)!) as CachedValue).payload as T);
    } finally {
      for (const mutex of mutexes.values()) await mutex.release();
    }
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

/** Makes a new {@link CacheRegion}; the same as `new CacheRegion(options)`. */
export function makeRegion(options?: RegionOptions): CacheRegion {
  return new CacheRegion(options);
}
