import type { Duration } from '../duration.js';
import { ValidationError } from '../errors.js';
import type {
  FunctionKeyGenerator,
  FunctionMultiKeyGenerator,
  ToStr,
} from '../keys/key-generators.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { Creation, type CreationContext } from './creation.js';
import type { CachingRegion } from './region-options.js';

/** What a `cacheMultiOnArguments({ asdict: true })` function returns. */
export type MultiDictResult<A, R> = ReadonlyMap<A, R> | Readonly<Record<string, R>>;

/** Options of `CacheRegion.cacheOnArguments`. */
export interface CacheOnArgumentsOptions<R> {
  /** The key prefix. Default: the function's name (an anonymous function must be given one). */
  namespace?: string;
  /**
   * Overrides the region's expiration time: seconds, a duration string, `-1` for never, or a
   * function returning one, called on each call. Default: the region's.
   */
  expirationTime?: Duration | (() => Duration);
  /** Called with each newly created value; return `false` to skip caching it. Default: cache all. */
  shouldCacheFn?: (value: R) => boolean;
  /** Renders each argument into the key. Default: {@link argToKeyPart}. */
  toStr?: ToStr;
  /** Replaces the region's key generator for this function. */
  functionKeyGenerator?: FunctionKeyGenerator;
  /**
   * Call the function with the creator's {@link CreationContext} after its own arguments (it
   * does not enter the key): its `signal`, `setExpirationTime`, `skip`, `setTags`. Off by default
   * because a function with optional parameters would take the context for one of them.
   * `.refresh()` passes a context whose signal never aborts, and honours only `skip`. Default: `false`.
   *
   * @example
   * const search = region.cacheOnArguments({ withContext: true })(
   *   async function search(q: string, ctx: CreationContext) {
   *     return api.search(q, { signal: ctx.signal });
   *   },
   * );
   * await search('dogpile'); // called with ('dogpile', ctx); keyed on 'dogpile' alone
   */
  withContext?: boolean;
}

/**
 * What `cacheOnArguments(options)` returns: a decorator for a function of arguments `A`, or with
 * `withContext: true`, of arguments `A` followed by its {@link CreationContext}.
 */
export type CacheOnArgumentsDecorator<R, O> = O extends { withContext: true }
  ? <A extends unknown[], V extends R>(
      fn: (...args: [...A, CreationContext<V>]) => V | Promise<V>,
    ) => CachedFunction<A, V>
  : <A extends unknown[], V extends R>(fn: (...args: A) => V | Promise<V>) => CachedFunction<A, V>;

/** Options of `CacheRegion.cacheMultiOnArguments`. */
export interface CacheMultiOnArgumentsOptions<R> {
  /** The key prefix. Default: the function's name (an anonymous function must be given one). */
  namespace?: string;
  /** As in {@link CacheOnArgumentsOptions.expirationTime}. */
  expirationTime?: Duration | (() => Duration);
  /** Called with each newly created value; return `false` to skip caching it. Default: cache all. */
  shouldCacheFn?: (value: R) => boolean;
  /**
   * The function returns a `Map` (or object) from argument to value rather than an array, and so
   * does the wrapped function; arguments it leaves out are neither cached nor returned. Default: `false`.
   */
  asdict?: boolean;
  /** Renders each argument into its key. Default: {@link argToKeyPart}. */
  toStr?: ToStr;
  /** Replaces the region's multi-key generator for this function. */
  functionMultiKeyGenerator?: FunctionMultiKeyGenerator;
}

/** A function wrapped by `CacheRegion.cacheOnArguments`. */
export interface CachedFunction<A extends unknown[], R> {
  (...args: A): Promise<R>;
  /** The cached value for these arguments, or `NO_VALUE`, without calling the function. */
  get(...args: A): Promise<R | NoValue>;
  /** Stores `value` as the result for these arguments. */
  set(value: R, ...args: A): Promise<void>;
  /** Drops the cached value for these arguments. */
  invalidate(...args: A): Promise<void>;
  /** Calls the function now, stores and returns its result, whatever is cached. */
  refresh(...args: A): Promise<R>;
  /** The function that was wrapped. */
  readonly original: (...args: A) => R | Promise<R>;
}

/** A function wrapped by `CacheRegion.cacheMultiOnArguments`. */
export interface CachedMultiFunction<A, R, Out = R[]> {
  (...args: A[]): Promise<Out>;
  /** The cached values for these arguments, `NO_VALUE` where there is none. */
  get(...args: A[]): Promise<Array<R | NoValue>>;
  /** Stores values for arguments: a `Map` from argument to value, or an object keyed by argument. */
  set(mapping: ReadonlyMap<A, R> | Readonly<Record<string, R>>): Promise<void>;
  /** Drops the cached values for these arguments. */
  invalidate(...args: A[]): Promise<void>;
  /** Calls the function for these arguments now and stores the results. */
  refresh(...args: A[]): Promise<Out>;
  /** The function that was wrapped. */
  readonly original: (...args: A[]) => unknown;
}

function expirationResolver(
  value: Duration | (() => Duration) | undefined,
): () => Duration | undefined {
  if (typeof value === 'function') return value;
  return () => value;
}

function checkFunction(fn: unknown, what: string): void {
  if (typeof fn !== 'function') {
    throw new ValidationError(`${what} decorates a function; got ${typeof fn}.`);
  }
}

/** Builds the wrapper returned by `cacheOnArguments`. */
export function makeCachedFunction<A extends unknown[], R>(
  region: CachingRegion,
  fn: (...args: A) => R | Promise<R>,
  options: CacheOnArgumentsOptions<R>,
): CachedFunction<A, R> {
  checkFunction(fn, 'cacheOnArguments()');
  const keyFor = (options.functionKeyGenerator ?? region.functionKeyGenerator)(
    options.namespace,
    fn,
    {
      ...(options.toStr ? { toStr: options.toStr } : {}),
    },
  ) as (...args: A) => string;
  const expiration = expirationResolver(options.expirationTime);
  const shouldCacheFn = options.shouldCacheFn;
  const withContext = options.withContext === true;
  const call = fn as (...args: unknown[]) => R | Promise<R>;

  const cached = function (this: unknown, ...args: A): Promise<R> {
    let key: string;
    let expirationTime: Duration | undefined;
    try {
      expirationTime = expiration();
      key = keyFor(...args);
    } catch (error) {
      // A function that returns a promise reports bad arguments by rejecting, never by throwing.
      return Promise.reject(error);
    }
    const creator = withContext
      ? (ctx: CreationContext<R>) => call.apply(this, [...args, ctx])
      : () => fn.apply(this, args);
    return region.getOrCreate(key, creator, {
      ...(expirationTime === undefined ? {} : { expirationTime }),
      ...(shouldCacheFn ? { shouldCacheFn } : {}),
    });
  } as CachedFunction<A, R>;

  cached.get = async (...args) => region.get<R>(keyFor(...args));
  cached.set = async (value, ...args) => region.set(keyFor(...args), value);
  cached.invalidate = async (...args) => region.delete(keyFor(...args));
  cached.refresh = async function (this: unknown, ...args: A) {
    const key = keyFor(...args);
    if (!withContext) {
      const value = await fn.apply(this, args);
      await region.set(key, value);
      return value;
    }
    const ctx = new Creation<R>(key, NO_VALUE as R, null);
    const value = await call.apply(this, [...args, ctx]);
    if (!ctx.skipped) await region.set(key, value);
    return value;
  };
  Object.defineProperty(cached, 'original', { value: fn, enumerable: true });
  Object.defineProperty(cached, 'name', { value: fn.name });
  Object.defineProperty(cached, 'length', { value: fn.length });
  return cached;
}

function objectKeyArg(key: string): string | number {
  return key !== '' && String(Number(key)) === key ? Number(key) : key;
}

function lookup<A, R>(result: unknown, arg: A): R | NoValue {
  if (result instanceof Map) return result.has(arg) ? (result.get(arg) as R) : NO_VALUE;
  if (result !== null && typeof result === 'object') {
    const key = String(arg);
    return Object.hasOwn(result, key) ? ((result as Record<string, R>)[key] as R) : NO_VALUE;
  }
  throw new ValidationError(
    `A cacheMultiOnArguments function with asdict: true must return a Map or an object; it returned ${typeof result}.`,
  );
}

/** Builds the wrapper returned by `cacheMultiOnArguments`. */
export function makeCachedMultiFunction<A, R>(
  region: CachingRegion,
  fn: (...args: A[]) => unknown,
  options: CacheMultiOnArgumentsOptions<R>,
): CachedMultiFunction<A, R, R[] | Map<A, R>> {
  checkFunction(fn, 'cacheMultiOnArguments()');
  const keysFor = (options.functionMultiKeyGenerator ?? region.functionMultiKeyGenerator)(
    options.namespace,
    fn,
    { ...(options.toStr ? { toStr: options.toStr } : {}) },
  ) as (...args: A[]) => string[];
  const expiration = expirationResolver(options.expirationTime);
  const { asdict = false, shouldCacheFn } = options;

  const cached = async function (this: unknown, ...args: A[]): Promise<R[] | Map<A, R>> {
    const keys = keysFor(...args);
    const argFor = new Map<string, A>();
    keys.forEach((key, i) => {
      argFor.set(key, args[i] as A);
    });
    const expirationTime = expiration();
    const timeOption = expirationTime === undefined ? {} : { expirationTime };
    if (!asdict) {
      return region.getOrCreateMulti<R>(
        keys,
        async (...toCreate) =>
          (await fn.apply(
            this,
            toCreate.map((k) => argFor.get(k) as A),
          )) as R[],
        { ...timeOption, ...(shouldCacheFn ? { shouldCacheFn } : {}) },
      );
    }
    const values = await region.getOrCreateMulti<R | NoValue>(
      keys,
      async (...toCreate) => {
        const result = await fn.apply(
          this,
          toCreate.map((k) => argFor.get(k) as A),
        );
        return toCreate.map((k) => lookup<A, R>(result, argFor.get(k) as A));
      },
      {
        ...timeOption,
        shouldCacheFn: (value) =>
          value !== NO_VALUE && (!shouldCacheFn || shouldCacheFn(value as R)),
      },
    );
    const out = new Map<A, R>();
    values.forEach((value, i) => {
      if (value !== NO_VALUE) out.set(args[i] as A, value as R);
    });
    return out;
  } as CachedMultiFunction<A, R, R[] | Map<A, R>>;

  cached.get = async (...args) => region.getMulti<R>(keysFor(...args));
  cached.set = async (mapping) => {
    // An object's keys are strings even when written as numbers (`{ 7: 18 }`): a key that is a
    // number's canonical form is taken as that number, so it lands where `get(7)` reads. For
    // string arguments that look like numbers, pass a Map.
    const args: A[] =
      mapping instanceof Map
        ? [...mapping.keys()]
        : (Object.keys(mapping).map(objectKeyArg) as A[]);
    const keys = keysFor(...args);
    const out = new Map<string, unknown>();
    keys.forEach((key, i) => {
      out.set(key, lookup<A, R>(mapping, args[i] as A));
    });
    return region.setMulti(out);
  };
  cached.invalidate = async (...args) => region.deleteMulti(keysFor(...args));
  cached.refresh = async function (this: unknown, ...args: A[]) {
    const keys = keysFor(...args);
    const result = await fn.apply(this, args);
    const out = new Map<string, unknown>();
    if (asdict) {
      keys.forEach((key, i) => {
        const value = lookup<A, R>(result, args[i] as A);
        if (value !== NO_VALUE) out.set(key, value);
      });
      await region.setMulti(out);
      const present = new Map<A, R>();
      for (const arg of args) {
        const value = lookup<A, R>(result, arg);
        if (value !== NO_VALUE) present.set(arg, value as R);
      }
      return present;
    }
    if (!Array.isArray(result) || result.length !== keys.length) {
      throw new ValidationError(
        `A cacheMultiOnArguments function must return one value per argument (${keys.length}); it returned ${Array.isArray(result) ? result.length : typeof result}.`,
      );
    }
    keys.forEach((key, i) => {
      out.set(key, result[i]);
    });
    await region.setMulti(out);
    return result as R[];
  };
  Object.defineProperty(cached, 'original', { value: fn, enumerable: true });
  Object.defineProperty(cached, 'name', { value: fn.name });
  Object.defineProperty(cached, 'length', { value: fn.length });
  return cached;
}
