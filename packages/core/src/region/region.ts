import type { CacheBackend, KeyMangler } from '../backend/backend.js';
import {
  type BackendResolveOptions,
  backendFrom,
  loadBackendFactory,
} from '../backend/backend-registry.js';
import { CachedValue } from '../backend/cached-value.js';
import { ProxyBackend } from '../backend/proxy-backend.js';
import type { Serializer } from '../backend/serializer.js';
import { type Clock, systemClock } from '../clock.js';
import {
  RegionAlreadyConfiguredError,
  RegionClosedError,
  RegionNotConfiguredError,
  ValidationError,
} from '../errors.js';
import {
  DefaultInvalidationStrategy,
  type RegionInvalidationStrategy,
} from '../invalidation/invalidation.js';
import {
  type FunctionKeyGenerator,
  type FunctionMultiKeyGenerator,
  functionKeyGenerator,
  functionMultiKeyGenerator,
} from '../keys/key-generators.js';
import { KeyedLocks } from '../lock/keyed-locks.js';
import { NullMutex } from '../lock/mutex.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { systemRandom } from '../random.js';
import { BackgroundRefresher } from './background-refresh.js';
import {
  type CachedMultiFunction,
  type CacheMultiOnArgumentsOptions,
  type CacheOnArgumentsDecorator,
  type CacheOnArgumentsOptions,
  type MultiDictResult,
  makeCachedFunction,
  makeCachedMultiFunction,
} from './cached-function.js';
import { type Configured, configure, type RegionParts } from './configured.js';
import { ErrorCache } from './error-cache.js';
import { readFlatConfig } from './flat-config.js';
import { Freshness } from './freshness.js';
import { Handoffs } from './handoff.js';
import { type MultiCreator, MultiFlow } from './multi-flow.js';
import { type PlainReadContext, readMany, readOne } from './plain-reads.js';
import type {
  ConfigureOptions,
  Creator,
  GetOptions,
  GetOrCreateMultiOptions,
  GetOrCreateOptions,
  RegionOptions,
} from './region-options.js';
import {
  checkConfigureOptions,
  checkCreator,
  parseExpiration,
  type RegionSettings,
  resolveCallSettings,
  resolveRegionSettings,
} from './region-settings.js';
import { parseTags } from './tag-index.js';

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
  readonly asyncCreationRunner: RegionSettings['asyncCreationRunner'];

  readonly #settings: RegionSettings;
  readonly #clock: Clock;
  readonly #freshness: Freshness;
  /** What the region keeps whatever its backend: locks, hand-offs, running creations, ... */
  readonly #parts: RegionParts;
  #backend: CacheBackend | undefined;
  #configured: Configured | undefined;
  #closed = false;

  constructor(options: RegionOptions = {}) {
    this.#settings = resolveRegionSettings(options);
    this.name = this.#settings.name;
    this.functionKeyGenerator = options.functionKeyGenerator ?? functionKeyGenerator;
    this.functionMultiKeyGenerator = options.functionMultiKeyGenerator ?? functionMultiKeyGenerator;
    this.asyncCreationRunner = this.#settings.asyncCreationRunner;
    this.#clock = options.clock ?? systemClock;
    this.#freshness = new Freshness(
      this.#clock,
      new DefaultInvalidationStrategy(() => this.#freshness.now()),
    );
    this.#parts = {
      region: this,
      clock: this.#clock,
      freshness: this.#freshness,
      locks: new KeyedLocks(),
      handoffs: new Handoffs(),
      background: new BackgroundRefresher(),
      creations: new Set(),
      errors: new ErrorCache(),
      random: options.random ?? systemRandom,
    };
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Gives the region its backend: an instance, or the name a backend package registered
   * (`'memory'`, `'redis'`, ...) with `arguments` for its factory. Returns the region.
   */
  configure(backend: CacheBackend | string, options: ConfigureOptions = {}): this {
    checkConfigureOptions(options, backend);
    if (this.#backend && !options.replaceExistingBackend) {
      throw new RegionAlreadyConfiguredError(this.name);
    }
    const expiration = parseExpiration(options.expirationTime);
    const instance = backendFrom(backend, options.arguments ?? {});
    if (options.regionInvalidator) this.#freshness.invalidator = options.regionInvalidator;
    this.#closed = false;
    this.#backend = instance;
    this.#setUp(instance, expiration);
    const wrap = options.wrap ?? [];
    for (let i = wrap.length - 1; i >= 0; i--) this.wrap(wrap[i]!);
    this.#freshness.invalidator.attach?.({
      owner: this,
      regionName: this.name,
      backend: () => this.backend,
      mangleKey: (key) => this.#open().store.key(key),
      now: () => this.#freshness.now(),
    });
    return this;
  }

  /** Builds the store and the flows around `backend` (the outermost proxy, when wrapped). */
  #setUp(backend: CacheBackend, expiration: number | null): void {
    this.#configured = configure({
      backend,
      expiration,
      settings: this.#settings,
      parts: this.#parts,
      isCurrent: (store) => this.#configured?.store === store,
    });
  }

  /**
   * Configures from a flat config object, as dogpile's `configure_from_config` (see
   * {@link readFlatConfig}); async because it imports the backend package the config names
   * (see {@link loadBackendFactory} for where it looks).
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
    options: BackendResolveOptions = {},
  ): Promise<this> {
    const flat = readFlatConfig(config, prefix);
    const factory = await loadBackendFactory(flat.backend, options);
    return this.configure(factory(flat.arguments), {
      expirationTime: flat.expirationTime,
      replaceExistingBackend: flat.replaceExistingBackend,
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
    this.#setUp(this.#backend, this.#configured!.defaults.expiration);
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
    return ProxyBackend.innermost(this.backend);
  }

  /** The key mangler in use: the region's own, else the backend's; `undefined` for none. */
  get keyMangler(): KeyMangler | undefined {
    return (
      this.#settings.keyMangler ??
      (this.#backend && ProxyBackend.innermost(this.#backend).keyMangler)
    );
  }

  /** The serializer in use: the region's own, else the backend's; `undefined` for objects. */
  get serializer(): Serializer | undefined {
    return this.#configured?.store.serializer ?? this.#settings.serializer;
  }

  /** The invalidation strategy in use. */
  get regionInvalidator(): RegionInvalidationStrategy {
    return this.#freshness.invalidator;
  }

  /** The region's expiration time in seconds, or `null` for never. */
  get expirationTime(): number | null {
    return this.#configured?.defaults.expiration ?? null;
  }

  /** The number of keys whose in-process creation lock is held right now. */
  get lockedKeyCount(): number {
    return this.#parts.locks.size;
  }

  /** The number of background regenerations running right now. */
  get backgroundRefreshCount(): number {
    return this.#parts.background.size;
  }

  #open(): Configured {
    return this.#configured ?? this.#notConfigured();
  }

  #notConfigured(): never {
    throw this.#notConfiguredError();
  }

  #notConfiguredError(): RegionClosedError | RegionNotConfiguredError {
    return this.#closed
      ? new RegionClosedError(this.name)
      : new RegionNotConfiguredError(this.name);
  }

  /** Closes the backend (and every proxy in front of it). The region cannot be used afterwards. */
  async close(): Promise<void> {
    const backend = this.#backend;
    if (!backend) return;
    this.#backend = undefined;
    this.#configured = undefined;
    this.#closed = true;
    for (const creation of this.#parts.creations) creation.abort(new RegionClosedError(this.name));
    // Background regenerations still write to this backend; it stays open until they are done.
    await this.#parts.background.drain();
    await backend.close();
  }

  // ---------------------------------------------------------------- reading and writing

  /** The value for `key`, or `NO_VALUE` if missing, expired or invalidated (see `ignoreExpiration`). */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | NoValue> {
    const value = await this.getValueMetadata<T>(key, options);
    return value === null ? NO_VALUE : value.payload;
  }

  /** The stored {@link CachedValue} (payload and metadata) for `key`, or `null` as {@link get} would give `NO_VALUE`. */
  async getValueMetadata<T = unknown>(
    key: string,
    options?: GetOptions,
  ): Promise<CachedValue<T> | null> {
    return readOne<T>(this.#reading(), key, options);
  }

  /** Values for `keys` in order, `NO_VALUE` where {@link get} would give it; one backend call. */
  async getMulti<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Array<T | NoValue>> {
    return readMany<T>(this.#reading(), keys, options);
  }

  #reading(): PlainReadContext {
    return { configured: this.#open(), freshness: this.#freshness, clock: this.#clock };
  }

  /** Stores `value` under `key` now, without locking. */
  async set(key: string, value: unknown): Promise<void> {
    const { store } = this.#open();
    const mangled = store.key(key);
    this.#revoke(mangled);
    await store.write(mangled, new CachedValue(value, this.#freshness.metadata()));
  }

  /** Stores several values in one backend call; accepts a `Map` or a plain object. */
  async setMulti(
    mapping: ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const { store } = this.#open();
    const metadata = this.#freshness.metadata();
    const entries = mapping instanceof Map ? mapping.entries() : Object.entries(mapping);
    const out = new Map<string, CachedValue>();
    for (const [key, value] of entries) {
      const mangled = store.key(key);
      this.#revoke(mangled);
      out.set(mangled, new CachedValue(value, metadata));
    }
    await store.writeMulti(out);
  }

  /** Removes `key`; removing a missing key is fine. */
  async delete(key: string): Promise<void> {
    const { store } = this.#open();
    const mangled = store.key(key);
    this.#revoke(mangled);
    await store.delete(mangled);
  }

  /** Removes several keys in one backend call. */
  async deleteMulti(keys: readonly string[]): Promise<void> {
    const { store } = this.#open();
    const mangled = keys.map((key) => store.key(key));
    if (keys.length === 0) return;
    for (const key of mangled) this.#revoke(key);
    await store.deleteMulti(mangled);
  }

  /** A write or delete through the region takes back what a lock holder would hand out. */
  #revoke(mangled: string): void {
    this.#parts.errors.forget(mangled);
    if (this.#parts.locks.isLocked(mangled)) this.#parts.handoffs.revoke(mangled);
  }

  /**
   * Retires every value created before now. Hard (the default): they become misses. Soft: they
   * become stale, so one caller regenerates while the others keep getting the old value (needs
   * an expiration time). With the default strategy this holds in this process only.
   */
  async invalidate(options: { hard?: boolean } = {}): Promise<void> {
    await this.#freshness.invalidator.invalidate(options.hard ?? true);
  }

  /**
   * Retires every value created before now that carries one of `tags` (`getOrCreate`'s `tags`,
   * `setTags`), in every process sharing the backend, where the times are kept (`tagCacheTime`).
   * Hard (the default): those values become misses; soft: stale.
   */
  async invalidateTags(tags: readonly string[], options: { hard?: boolean } = {}): Promise<void> {
    const { tags: index } = this.#open();
    await index.invalidate(parseTags(tags, 'invalidateTags'), options.hard ?? true);
  }

  /** Whether a creator for `key` is running right now, here or (with a distributed mutex) anywhere. */
  async keyIsLocked(key: string): Promise<boolean> {
    const { store } = this.#open();
    const mangled = store.key(key);
    if (this.#parts.locks.isLocked(mangled)) return true;
    const remote = store.mutex(mangled);
    return remote !== null && !(remote instanceof NullMutex) && remote.locked();
  }

  // ---------------------------------------------------------------- the dogpile lock

  /**
   * The value for `key`; when it is missing or stale, exactly one caller runs `creator` and stores
   * its result. The others wait for it when there is no value, or get the stale value at once.
   */
  getOrCreate<T>(key: string, creator: Creator<T>, options?: GetOrCreateOptions<T>): Promise<T> {
    // Not an async method: see ReadThrough, which runs it up to the miss.
    const configured = this.#configured;
    if (configured === undefined) return Promise.reject(this.#notConfiguredError());
    return configured.reads.getOrCreate(key, creator, options);
  }

  /**
   * Values for `keys`, in order, with one backend `getMulti`. Keys that are missing or stale are
   * created together: `creator` is called once with just those keys, sorted, and returns their
   * values in that order. Locks are taken in sorted key order, so concurrent calls cannot deadlock.
   *
   * @example
   * const users = await region.getOrCreateMulti(['user:1', 'user:2'], (...missing) =>
   *   db.loadUsers(missing.map((key) => key.slice('user:'.length))),
   * );
   */
  async getOrCreateMulti<T>(
    keys: readonly string[],
    creator: MultiCreator<T>,
    options?: GetOrCreateMultiOptions<T>,
  ): Promise<T[]> {
    const { defaults, flow } = this.#open();
    checkCreator(creator);
    const settings =
      options === undefined
        ? defaults
        : resolveCallSettings(defaults, options as never, 'getOrCreateMulti');
    const run = new MultiFlow<T>(flow, keys, creator, settings);
    if (keys.length === 0) return [];
    return run.run(keys);
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
  cacheOnArguments<R = unknown, O extends CacheOnArgumentsOptions<R> = CacheOnArgumentsOptions<R>>(
    options: O = {} as O,
  ): CacheOnArgumentsDecorator<R, O> {
    // The value type comes from the function (`V`); `R` only constrains it when given.
    return (<A extends unknown[], V>(fn: (...args: A) => V | Promise<V>) =>
      makeCachedFunction<A, V>(this, fn, options as CacheOnArgumentsOptions<unknown>)) as never;
  }

  /**
   * Wraps `fn(...args) → values` so that each argument is cached under its own key and only the
   * missing ones are passed to `fn`, through {@link getOrCreateMulti}. With `asdict: true`, `fn`
   * returns a `Map` (or object) from argument to value and so does the wrapped function.
   */
  cacheMultiOnArguments<R = unknown>(
    options: CacheMultiOnArgumentsOptions<R> & { asdict: true },
  ): <A, V extends R>(
    fn: (...args: A[]) => MultiDictResult<A, V> | Promise<MultiDictResult<A, V>>,
  ) => CachedMultiFunction<A, V, Map<A, V>>;
  cacheMultiOnArguments<R = unknown>(
    options?: CacheMultiOnArgumentsOptions<R> & { asdict?: false },
  ): <A, V extends R>(
    fn: (...args: A[]) => readonly V[] | Promise<readonly V[]>,
  ) => CachedMultiFunction<A, V, V[]>;
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
