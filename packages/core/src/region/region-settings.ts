import type { CacheBackend, KeyMangler } from '../backend/backend.js';
import type { Serializer } from '../backend/serializer.js';
import { type Duration, toSeconds } from '../duration.js';
import { ValidationError } from '../errors.js';
import { rejectUnknownOptions } from '../known-options.js';
import { parseCreationTime } from './creation.js';
import { earlyRefreshBeta } from './early-refresh.js';
import { parseFailSafe, parseStaleIfError } from './fail-safe.js';
import {
  checkSignal,
  type OnLockTimeout,
  parseLockWaitTimeout,
  parseOnLockTimeout,
} from './lock-wait.js';
import type {
  AsyncCreationRunner,
  ConfigureOptions,
  GetOptions,
  GetOrCreateMultiOptions,
  GetOrCreateOptions,
  RegionOptions,
} from './region-options.js';
import { parseTagCacheTime, parseTags } from './tag-index.js';

/**
 * Everything one `getOrCreate` (or `getOrCreateMulti`) call runs with: the region's settings
 * merged with the call's options, resolved and checked once, before any lock is taken, and frozen.
 */
export interface CallSettings {
  /** Seconds a value stays fresh, or `null` for never. */
  readonly expiration: number | null;
  /** Seconds, or `null` to wait as long as it takes. */
  readonly lockWaitTimeout: number | null;
  readonly onLockTimeout: OnLockTimeout;
  readonly signal: AbortSignal | undefined;
  readonly failSafe: boolean;
  /** Seconds, or `null` for off. */
  readonly staleIfError: number | null;
  readonly backgroundRefresh: boolean;
  /** The early refresh `beta`, `0` when off. */
  readonly earlyBeta: number;
  /** Store the creation duration (`cd`): early refresh is on for the region or this call. */
  readonly measure: boolean;
  readonly shouldCacheFn: ((value: unknown) => boolean) | undefined;
  readonly creatorArgs: readonly unknown[];
  /** `hardTimeout` in milliseconds; `null`: none. */
  readonly hardTimeoutMs: number | null;
  /** `softTimeout` in milliseconds; `null`: off. */
  readonly softTimeoutMs: number | null;
  /** `cacheErrorsFor` in milliseconds; `null`: off. */
  readonly cacheErrorsForMs: number | null;
  /** The tags a created value carries; empty for none. */
  readonly tags: readonly string[];
  readonly abortWhenAbandoned: boolean;
}

/** The region's own settings, resolved at construction. */
export interface RegionSettings {
  readonly name: string;
  readonly keyMangler: KeyMangler | undefined;
  readonly serializer: Serializer | undefined;
  readonly asyncCreationRunner: AsyncCreationRunner | undefined;
  /** `tagCacheTime` in milliseconds. */
  readonly tagCacheMs: number;
  /** The per-call defaults, without an expiration (that comes with `configure`). */
  readonly call: Omit<CallSettings, 'expiration'>;
}

const REGION_OPTIONS = [
  'name',
  'functionKeyGenerator',
  'functionMultiKeyGenerator',
  'keyMangler',
  'serializer',
  'deserializer',
  'asyncCreationRunner',
  'clock',
  'random',
  'lockWaitTimeout',
  'onLockTimeout',
  'failSafe',
  'staleIfError',
  'backgroundRefresh',
  'earlyRefresh',
  'hardTimeout',
  'softTimeout',
  'cacheErrorsFor',
  'abortWhenAbandoned',
  'tagCacheTime',
];
const CALL_OPTIONS = [
  'expirationTime',
  'shouldCacheFn',
  'creatorArgs',
  'lockWaitTimeout',
  'onLockTimeout',
  'signal',
  'failSafe',
  'staleIfError',
  'backgroundRefresh',
  'earlyRefresh',
  'hardTimeout',
  'softTimeout',
  'cacheErrorsFor',
  'abortWhenAbandoned',
  'tags',
];
const MULTI_OPTIONS = [
  'expirationTime',
  'shouldCacheFn',
  'lockWaitTimeout',
  'onLockTimeout',
  'signal',
  'failSafe',
  'staleIfError',
];
const GET_OPTIONS = ['expirationTime', 'ignoreExpiration'];
const CONFIGURE_OPTIONS = [
  'expirationTime',
  'arguments',
  'wrap',
  'replaceExistingBackend',
  'regionInvalidator',
];

/** Where an option given to the wrong place belongs, for the message. */
const BELONGS: Record<string, string> = {
  expirationTime: 'configure(backend, { expirationTime }), or to a call',
  arguments: 'configure(name, { arguments })',
  replaceExistingBackend: 'configure()',
  regionInvalidator: 'configure()',
};

/** {@link rejectUnknownOptions} with the hints of the region's options. */
export function rejectUnknown(options: object, known: readonly string[], where: string): void {
  rejectUnknownOptions(options, known, where, BELONGS);
}

function checkObject(options: unknown, where: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ValidationError(
      `${where} takes an options object; got ${options === null ? 'null' : typeof options}.`,
    );
  }
}

function checkFunction(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new ValidationError(
      `${what} must be a function; got ${value === null ? 'null' : typeof value}.`,
    );
  }
}

function checkBoolean(value: unknown, what: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new ValidationError(
    `${what} must be true or false; got ${JSON.stringify(value) ?? typeof value}.`,
  );
}

/**
 * Checks a serializer: an object with `serialize` and `deserialize` functions, or (as dogpile's
 * `serializer=` and `deserializer=`) two functions.
 */
export function checkSerializer(
  value: unknown,
  what: string,
  deserializer?: unknown,
): Serializer | undefined {
  if (typeof value === 'function' || deserializer !== undefined) {
    if (typeof value !== 'function' || typeof deserializer !== 'function') {
      throw new ValidationError(
        `${what} and deserializer go together: give both as functions (serializer(value) → bytes, deserializer(bytes) → value), or a serializer object such as jsonSerializer and no deserializer.`,
      );
    }
    return {
      serialize: value as Serializer['serialize'],
      deserialize: deserializer as Serializer['deserialize'],
    };
  }
  if (value === undefined) return undefined;
  const s = value as Partial<Serializer> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    typeof s.serialize !== 'function' ||
    typeof s.deserialize !== 'function'
  ) {
    throw new ValidationError(
      `${what} must be an object with serialize(value) and deserialize(bytes) methods, such as jsonSerializer or v8Serializer.`,
    );
  }
  return s as Serializer;
}

/**
 * Seconds, or `null` for never: `-1`, `0`, `null` or `undefined`. `0` means "no expiry" for every
 * expiration time in the project (as `redisExpirationTime: 0`, Memcached's `0`, and lru-cache's
 * `ttl: 0`); dogpile.cache's region read it as "stale at once", which nobody asks for on purpose.
 */
export function parseExpiration(value: unknown, what = 'expirationTime'): number | null {
  if (value === undefined || value === null) return null;
  const seconds = toSeconds(value as Duration, what);
  return seconds === -1 || seconds === 0 ? null : seconds;
}

/** Checks `makeRegion`'s options and resolves the region's defaults. */
export function resolveRegionSettings(options: RegionOptions): RegionSettings {
  checkObject(options, 'makeRegion()');
  rejectUnknown(options, REGION_OPTIONS, 'makeRegion()');
  if (options.name !== undefined && typeof options.name !== 'string') {
    throw new ValidationError(`name must be a string; got ${typeof options.name}.`);
  }
  checkFunction(options.asyncCreationRunner, 'asyncCreationRunner');
  checkFunction(options.keyMangler, 'keyMangler');
  checkFunction(options.random, 'random');
  checkFunction(options.functionKeyGenerator, 'functionKeyGenerator');
  checkFunction(options.functionMultiKeyGenerator, 'functionMultiKeyGenerator');
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    throw new ValidationError(
      'clock must be an object with a now() method returning milliseconds.',
    );
  }
  const backgroundRefresh = checkBoolean(options.backgroundRefresh, 'backgroundRefresh');
  if (backgroundRefresh === false && options.asyncCreationRunner !== undefined) {
    throw new ValidationError(
      'backgroundRefresh: false contradicts asyncCreationRunner, which regenerates in the background. Drop one of them.',
    );
  }
  const earlyBeta = earlyRefreshBeta(options.earlyRefresh, 'earlyRefresh');
  return {
    name: options.name ?? 'default',
    keyMangler: options.keyMangler,
    serializer: checkSerializer(options.serializer, 'serializer', options.deserializer),
    asyncCreationRunner: options.asyncCreationRunner,
    tagCacheMs: parseTagCacheTime(options.tagCacheTime),
    call: Object.freeze({
      lockWaitTimeout: parseLockWaitTimeout(options.lockWaitTimeout),
      onLockTimeout:
        options.onLockTimeout === undefined ? 'throw' : parseOnLockTimeout(options.onLockTimeout),
      signal: undefined,
      failSafe: parseFailSafe(options.failSafe),
      staleIfError: parseStaleIfError(options.staleIfError),
      backgroundRefresh: backgroundRefresh ?? options.asyncCreationRunner !== undefined,
      earlyBeta,
      measure: earlyBeta > 0,
      shouldCacheFn: undefined,
      creatorArgs: [],
      hardTimeoutMs: parseCreationTime(options.hardTimeout, 'hardTimeout'),
      softTimeoutMs: parseCreationTime(options.softTimeout, 'softTimeout'),
      cacheErrorsForMs: parseCreationTime(options.cacheErrorsFor, 'cacheErrorsFor'),
      tags: [],
      abortWhenAbandoned: checkBoolean(options.abortWhenAbandoned, 'abortWhenAbandoned') ?? false,
    }),
  };
}

/** The defaults of every call, once `configure` gave the expiration. */
export function regionCallSettings(
  region: RegionSettings,
  expiration: number | null,
): CallSettings {
  return Object.freeze({ ...region.call, expiration });
}

/**
 * One call's settings: `defaults` overridden by `options`, every option checked here, before the
 * call reads or locks anything.
 */
export function resolveCallSettings(
  defaults: CallSettings,
  options: GetOrCreateOptions<never> | GetOrCreateMultiOptions<never>,
  method: 'getOrCreate' | 'getOrCreateMulti',
): CallSettings {
  checkObject(options, `${method}()`);
  rejectUnknown(options, method === 'getOrCreate' ? CALL_OPTIONS : MULTI_OPTIONS, `${method}()`);
  const o = options as GetOrCreateOptions<unknown>;
  checkFunction(o.shouldCacheFn, 'shouldCacheFn');
  if (o.creatorArgs !== undefined && !Array.isArray(o.creatorArgs)) {
    throw new ValidationError(
      `creatorArgs must be an array of arguments for the creator; got ${typeof o.creatorArgs}.`,
    );
  }
  const backgroundRefresh = checkBoolean(o.backgroundRefresh, 'backgroundRefresh');
  const callBeta =
    o.earlyRefresh === undefined ? undefined : earlyRefreshBeta(o.earlyRefresh, 'earlyRefresh');
  return Object.freeze({
    expiration:
      o.expirationTime === undefined ? defaults.expiration : parseExpiration(o.expirationTime),
    lockWaitTimeout:
      o.lockWaitTimeout === undefined
        ? defaults.lockWaitTimeout
        : parseLockWaitTimeout(o.lockWaitTimeout),
    onLockTimeout:
      o.onLockTimeout === undefined ? defaults.onLockTimeout : parseOnLockTimeout(o.onLockTimeout),
    signal: checkSignal(o.signal),
    failSafe: o.failSafe === undefined ? defaults.failSafe : parseFailSafe(o.failSafe),
    staleIfError:
      o.staleIfError === undefined ? defaults.staleIfError : parseStaleIfError(o.staleIfError),
    backgroundRefresh: backgroundRefresh ?? defaults.backgroundRefresh,
    earlyBeta: callBeta ?? defaults.earlyBeta,
    measure: defaults.measure || (callBeta !== undefined && callBeta > 0),
    shouldCacheFn: o.shouldCacheFn as ((value: unknown) => boolean) | undefined,
    creatorArgs: o.creatorArgs ?? [],
    hardTimeoutMs:
      o.hardTimeout === undefined
        ? defaults.hardTimeoutMs
        : parseCreationTime(o.hardTimeout, 'hardTimeout'),
    softTimeoutMs:
      o.softTimeout === undefined
        ? defaults.softTimeoutMs
        : parseCreationTime(o.softTimeout, 'softTimeout'),
    cacheErrorsForMs:
      o.cacheErrorsFor === undefined
        ? defaults.cacheErrorsForMs
        : parseCreationTime(o.cacheErrorsFor, 'cacheErrorsFor'),
    tags: o.tags === undefined ? defaults.tags : parseTags(o.tags, 'tags'),
    abortWhenAbandoned:
      checkBoolean(o.abortWhenAbandoned, 'abortWhenAbandoned') ?? defaults.abortWhenAbandoned,
  });
}

/**
 * Checks the options of `get`, `getMulti` and `getValueMetadata`, and gives the expiration time
 * the read applies: the call's own, else the region's.
 */
export function readExpiration(
  defaults: CallSettings,
  options: GetOptions | undefined,
  method: string,
): number | null {
  if (options === undefined) return defaults.expiration;
  checkObject(options, `${method}()`);
  rejectUnknown(options, GET_OPTIONS, `${method}()`);
  checkBoolean(options.ignoreExpiration, 'ignoreExpiration');
  return options.expirationTime === undefined
    ? defaults.expiration
    : parseExpiration(options.expirationTime);
}

/** Checks the options of `configure`. */
export function checkConfigureOptions(
  options: ConfigureOptions,
  backend: CacheBackend | string,
): void {
  checkObject(options, 'configure()');
  rejectUnknown(options, CONFIGURE_OPTIONS, 'configure()');
  checkBoolean(options.replaceExistingBackend, 'replaceExistingBackend');
  if (options.arguments !== undefined && typeof backend !== 'string') {
    throw new ValidationError(
      'configure() takes arguments only with a backend name (configure("redis", { arguments })); an instance was built already.',
    );
  }
  if (options.wrap !== undefined && !Array.isArray(options.wrap)) {
    throw new ValidationError('wrap must be an array of proxies, outermost first.');
  }
}

/** A creator must be a function: checked before anything is read or locked. */
export function checkCreator(creator: unknown): void {
  if (typeof creator !== 'function') {
    throw new ValidationError(`creator must be a function; got ${typeof creator}.`);
  }
}
