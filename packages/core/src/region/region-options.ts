import type { KeyMangler } from '../backend/backend.js';
import type { ProxyBackend } from '../backend/proxy-backend.js';
import type { Serializer } from '../backend/serializer.js';
import type { Clock } from '../clock.js';
import type { Duration } from '../duration.js';
import type { RegionInvalidationStrategy } from '../invalidation/invalidation.js';
import type { FunctionKeyGenerator, FunctionMultiKeyGenerator } from '../keys/key-generators.js';
import type { CacheMutex } from '../lock/mutex.js';
import type { NoValue } from '../no-value.js';
import type { RandomSource } from '../random.js';
import type { CreationContext, CreationOptions } from './creation.js';
import type { FailSafeOptions } from './fail-safe.js';
import type { CallWaitOptions, LockWaitOptions } from './lock-wait.js';
import type { RefreshOptions } from './refresh-options.js';

/** What a cached function needs of its region (a `CacheRegion`). */
export interface CachingRegion {
  readonly functionKeyGenerator: FunctionKeyGenerator;
  readonly functionMultiKeyGenerator: FunctionMultiKeyGenerator;
  getOrCreate<T>(
    key: string,
    creator: (ctx: CreationContext<T>) => T | Promise<T>,
    options?: GetOrCreateOptions<T>,
  ): Promise<T>;
  getOrCreateMulti<T>(
    keys: readonly string[],
    creator: (...keys: string[]) => readonly T[] | Promise<readonly T[]>,
    options?: GetOrCreateMultiOptions<T>,
  ): Promise<T[]>;
  get<T>(key: string): Promise<T | NoValue>;
  getMulti<T>(keys: readonly string[]): Promise<Array<T | NoValue>>;
  set(key: string, value: unknown): Promise<void>;
  setMulti(mapping: ReadonlyMap<string, unknown>): Promise<void>;
  delete(key: string): Promise<void>;
  deleteMulti(keys: readonly string[]): Promise<void>;
}

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
  region: CachingRegion,
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
export interface RegionOptions
  extends LockWaitOptions,
    FailSafeOptions,
    RefreshOptions,
    CreationOptions {
  /** A name for error messages and instrumentation. Default: `'default'`. */
  name?: string;
  /** Builds keys for `cacheOnArguments`. Default: `functionKeyGenerator`. */
  functionKeyGenerator?: FunctionKeyGenerator;
  /** Builds keys for `cacheMultiOnArguments`. Default: `functionMultiKeyGenerator`. */
  functionMultiKeyGenerator?: FunctionMultiKeyGenerator;
  /** Applied to every key before it reaches the backend. Default: the backend's own, if any. */
  keyMangler?: KeyMangler;
  /**
   * Store payloads as bytes with this serializer, over the backend's. Default: the backend's
   * (`jsonSerializer` for byte backends; none for `MemoryBackend`, which keeps objects).
   */
  serializer?: Serializer | ((value: unknown) => Uint8Array);
  /**
   * With a `serializer` function, the function that reads its bytes back, as dogpile's
   * `deserializer=`. It may throw `CantDeserializeError` for a miss. Default: none.
   *
   * @example
   * makeRegion({ serializer: (v) => Buffer.from(JSON.stringify(v)), deserializer: (b) => JSON.parse(Buffer.from(b).toString()) });
   */
  deserializer?: (bytes: Uint8Array) => unknown;
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
  /**
   * How long this process keeps its copy of a tag's invalidation times (seconds or a duration
   * string) before reading them from the backend again: an `invalidateTags` in another process
   * is seen within this time (in this one, at once). A hit on a tagged value reads the backend
   * at most once per tag per `tagCacheTime`. `0`: read them on every hit of a tagged value.
   * Default: `1`.
   *
   * @example
   * makeRegion({ tagCacheTime: '250ms' });
   */
  tagCacheTime?: Duration;
}

/**
 * Options of `configure`.
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
  /** Replaces the in-process invalidation strategy. Default: `DefaultInvalidationStrategy`. */
  regionInvalidator?: RegionInvalidationStrategy;
}

/** Options of the read methods. */
export interface GetOptions {
  /** Overrides the region's expiration time for this read only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Return a present value whatever its age or invalidation. Default: `false`. */
  ignoreExpiration?: boolean;
}

/**
 * Creates a value; may be sync or async. It is called with the call's `creatorArgs`, then a
 * {@link CreationContext} (signal, key, stale value, `setExpirationTime`, `skip`), which a
 * creator that needs none of it simply ignores.
 */
export type Creator<T> = (...args: never[]) => T | Promise<T>;

/** Options of `getOrCreate`. */
export interface GetOrCreateOptions<T>
  extends CallWaitOptions,
    FailSafeOptions,
    RefreshOptions,
    CreationOptions {
  /** Overrides the region's expiration time for this call only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Called with a newly created value; return `false` to return it without caching it. */
  shouldCacheFn?: (value: T) => boolean;
  /**
   * Arguments passed to the creator, before its {@link CreationContext}. Default: none.
   *
   * @example
   * region.getOrCreate(key, (id, ctx) => load(id, { signal: ctx.signal }), { creatorArgs: [id] });
   */
  creatorArgs?: readonly unknown[];
  /**
   * Tags the created value carries (the creator may add more with `setTags`), for
   * `invalidateTags`: at most 64 well-formed, non-empty strings. Stored in the value's metadata
   * (`tg`, ignored by Python dogpile.cache). Default: none.
   *
   * @example
   * await region.getOrCreate(`post:${id}`, () => db.loadPost(id), { tags: [`user:${userId}`] });
   * await region.invalidateTags([`user:${userId}`]); // that post, and every value tagged so
   */
  tags?: readonly string[];
}

/** Options of `getOrCreateMulti`. */
export interface GetOrCreateMultiOptions<T> extends CallWaitOptions, FailSafeOptions {
  /** Overrides the region's expiration time for this call only (seconds or duration string; `-1` never). */
  expirationTime?: Duration;
  /** Called with each newly created value; return `false` to return it without caching it. */
  shouldCacheFn?: (value: T) => boolean;
}
