import {
  type DistributedLockOptions,
  type Duration,
  type KeyMangler,
  type LeaseSettings,
  LOCK_OPTION_ALIASES,
  LOCK_OPTION_NAMES,
  resolveLockOptions,
  type Serializer,
  toSeconds,
  ValidationError,
} from '@dogpile/core';
import type memjs from 'memjs';
import { formatAddress, parseServers, type ServerAddress } from './servers.js';

/**
 * Options of {@link MemcachedBackend}. Give `servers` (or an existing memjs `client`); with
 * neither, it connects to `127.0.0.1:11211`.
 *
 * @example
 * new MemcachedBackend({
 *   servers: 'cache1:11211,cache2:11211',
 *   memcachedExpireTime: '1h',
 *   distributedLock: true,
 *   lockTimeout: '30s',
 * });
 * new MemcachedBackend({ servers: ['cache1:11211'], username: 'app', password: 'secret' });
 * new MemcachedBackend({ client: existingMemjsClient }); // close() leaves it open
 */
export interface MemcachedBackendOptions extends DistributedLockOptions {
  // ------------------------------------------------------------------ connection

  /**
   * The servers, as memjs takes them: `'host:port,host:port'` (each optionally
   * `user:password@host:port`, IPv6 as `[::1]:11211`), or an array of `'host:port'` (Python
   * dogpile.cache's `url`, accepted as an alias). Keys are spread over several servers as memjs
   * spreads them. Default: `'127.0.0.1:11211'`.
   */
  servers?: string | readonly string[];
  /** SASL user name, for every server without its own `user:password@`. Default: none. */
  username?: string;
  /** SASL password, for every server without its own `user:password@`. Default: none. */
  password?: string;
  /**
   * A memjs `Client` to use instead of connecting. The backend never closes it: `close()` leaves
   * it open for its owner. Its servers, credentials and timeouts apply (`commandTimeout` and
   * `connectTimeout` then only bound how long a request may wait). Default: none.
   */
  client?: memjs.Client;
  /** How long to wait for a connection (and SASL) to be ready, in seconds (or `'500ms'`). Default: `2`. */
  connectTimeout?: Duration;
  /**
   * How long a command may wait for its reply, in seconds (or `'500ms'`), so a dead or stopped
   * server cannot block a caller for long. Default: `1`.
   */
  commandTimeout?: Duration;
  /**
   * How many more times a read or plain write is sent after a connection error (never a lock
   * command, whose first attempt may have taken effect). Default: `0`: fail fast, and let the
   * region's fail-safe serve.
   */
  retries?: number;
  /** The pause before each retry, in seconds (or `'50ms'`). Default: `'100ms'`. */
  retryDelay?: Duration;
  /** TCP keep-alive on the connections this backend opens. Default: `false` (memjs's default). */
  keepAlive?: boolean;
  /**
   * How keys are spread over several servers: `'memjs'` (memjs's `hashCode(key) % servers`, or the
   * `getServer` of a given `client`), or `'pymemcache'` (rendezvous hashing as pymemcache's
   * `HashClient`, which dogpile.cache's pymemcache backend uses), so that Node and Python
   * processes find each key, and its lock, on the same server. Default: `'memjs'`.
   */
  keyPlacement?: 'memjs' | 'pymemcache';

  // ------------------------------------------------------------------ storage

  /**
   * Server-side expiry of stored values, in seconds (or a duration string), rounded up to whole
   * seconds as Memcached counts them: dogpile.cache's `memcached_expire_time`. Make it longer than
   * the region's `expirationTime`, so that stale values can still be served while one caller
   * regenerates. Over 30 days it is sent as an absolute Unix time, as Memcached requires (so the
   * servers' clocks must be right). `-1`, `0` or `null`: no server-side expiry (Memcached may
   * still evict under memory pressure). Default: none.
   */
  memcachedExpireTime?: Duration | null;
  /**
   * What a write of a value over the server's item size limit (`memcached -I`, 1 MiB by default)
   * does: `'report'` publishes an `ERR_MEMCACHED_VALUE_TOO_LARGE` error on `dogpile:error` (once
   * per key) and resolves, so `getOrCreate` still returns the creator's value, uncached;
   * `'throw'` rejects the write with it. Either way Memcached drops the key's previous value.
   * Default: `'report'`.
   */
  onValueTooLarge?: 'report' | 'throw';
  /** Applied to every key by the region, unless the region has its own. Default: none. */
  keyMangler?: KeyMangler;
  /** How payloads become bytes. Default: core's `jsonSerializer` (readable by Python dogpile.cache). */
  serializer?: Serializer;

  // ------------------------------------------------------------------ distributed lock
  // distributedLock, lockTimeout, lockAutoExtend, lockBlockingTimeout, lockPollMin, lockPollMax
  // and lockPrefix come from core's DistributedLockOptions: the same on every backend.
}

/** How the backend reaches Memcached. */
export type Connection =
  | { kind: 'client'; client: memjs.Client }
  | { kind: 'servers'; servers: ServerAddress[] };

/** {@link MemcachedBackendOptions} checked and converted. */
export interface ResolvedOptions {
  connection: Connection;
  /** The servers for error messages, with no password in them. */
  where: string;
  username: string | undefined;
  password: string | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  retries: number;
  retryDelayMs: number;
  keepAlive: boolean;
  keyPlacement: 'memjs' | 'pymemcache';
  /** Whole seconds; `undefined`: no server-side expiry. */
  expireSeconds: number | undefined;
  onValueTooLarge: 'report' | 'throw';
  keyMangler: KeyMangler | undefined;
  serializer: Serializer | undefined;
  distributedLock: boolean;
  /** The shared lock settings, for core's `LeaseLocks`. */
  lease: LeaseSettings;
}

const KNOWN = new Set<string>([
  'servers',
  'username',
  'password',
  'client',
  'connectTimeout',
  'commandTimeout',
  'retries',
  'retryDelay',
  'keepAlive',
  'keyPlacement',
  'memcachedExpireTime',
  'onValueTooLarge',
  'keyMangler',
  'serializer',
  ...LOCK_OPTION_NAMES,
]);

// Python dogpile.cache argument names (after configureFromConfig's camelCasing) that mean the same.
const ALIASES: Record<string, string> = {
  url: 'servers',
};

const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
const DEFAULT_RETRY_DELAY_MS = 100;

function positiveMs(value: unknown, what: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ValidationError(
      `MemcachedBackend option ${what} must be seconds or a duration string such as '500ms'; got ${typeof value}.`,
    );
  }
  const seconds = toSeconds(value, what);
  if (seconds <= 0) throw new ValidationError(`${what} must be more than 0; got ${String(value)}.`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

function checkType(options: Record<string, unknown>, key: string, type: string): void {
  const value = options[key];
  if (value !== undefined && value !== null && typeof value !== type) {
    throw new ValidationError(
      `MemcachedBackend option ${key} must be a ${type}; got ${typeof value}.`,
    );
  }
}

function isClient(value: unknown): value is memjs.Client {
  // Duck-typed: an application may hold a client from another copy of memjs.
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as memjs.Client).servers) &&
    typeof (value as memjs.Client).incrSeq === 'function' &&
    typeof (value as memjs.Client).getServer === 'function'
  );
}

/** Checks {@link MemcachedBackendOptions}, applies defaults and converts durations. */
export function resolveOptions(input: MemcachedBackendOptions = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ValidationError('MemcachedBackend takes an options object.');
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    // Lock aliases (Python's lock_sleep among them) are resolved, with their warning, by core.
    const name = key in LOCK_OPTION_ALIASES ? key : (ALIASES[key] ?? key);
    if (!KNOWN.has(name) && !(key in LOCK_OPTION_ALIASES)) {
      throw new ValidationError(
        `Unknown MemcachedBackend option "${key}". Known options: ${[...KNOWN].join(', ')}.`,
      );
    }
    if (value === undefined) continue;
    if (options[name] !== undefined) {
      throw new ValidationError(
        `MemcachedBackend got both "${name}" and its alias "${key}"; give one.`,
      );
    }
    options[name] = value;
  }
  for (const key of ['username', 'password']) checkType(options, key, 'string');
  checkType(options, 'keepAlive', 'boolean');
  checkType(options, 'keyMangler', 'function');
  const retries = options.retries ?? 0;
  if (!Number.isInteger(retries) || (retries as number) < 0 || (retries as number) > 10) {
    throw new ValidationError(
      `MemcachedBackend option retries must be a whole number from 0 to 10; got ${String(retries)}.`,
    );
  }
  const onValueTooLarge = options.onValueTooLarge ?? 'report';
  if (onValueTooLarge !== 'report' && onValueTooLarge !== 'throw') {
    throw new ValidationError(
      `MemcachedBackend option onValueTooLarge must be 'report' or 'throw'; got ${JSON.stringify(onValueTooLarge)}.`,
    );
  }
  const keyPlacement = options.keyPlacement ?? 'memjs';
  if (keyPlacement !== 'memjs' && keyPlacement !== 'pymemcache') {
    throw new ValidationError(
      `MemcachedBackend option keyPlacement must be 'memjs' or 'pymemcache'; got ${JSON.stringify(keyPlacement)}.`,
    );
  }
  const serializer = options.serializer as Serializer | undefined;
  if (
    serializer !== undefined &&
    (typeof serializer !== 'object' ||
      serializer === null ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw new ValidationError(
      'MemcachedBackend option serializer must have serialize() and deserialize() methods.',
    );
  }

  let connection: Connection;
  let where: string;
  if (options.client !== undefined) {
    if (options.servers !== undefined) {
      throw new ValidationError('MemcachedBackend got client and servers; give only one.');
    }
    if (options.username !== undefined || options.password !== undefined) {
      throw new ValidationError(
        "MemcachedBackend got client and username/password; the client's own credentials apply, so give them to the client.",
      );
    }
    if (!isClient(options.client)) {
      throw new ValidationError('MemcachedBackend option client must be a memjs Client.');
    }
    connection = { kind: 'client', client: options.client };
    where = options.client.servers.map((server) => formatAddress(server)).join(', ');
  } else {
    const servers = parseServers(options.servers ?? '127.0.0.1:11211');
    connection = { kind: 'servers', servers };
    where = servers.map(formatAddress).join(', ');
  }

  let expireSeconds: number | undefined;
  const expire = options.memcachedExpireTime;
  if (expire !== undefined && expire !== null) {
    if (typeof expire !== 'number' && typeof expire !== 'string') {
      throw new ValidationError(
        `MemcachedBackend option memcachedExpireTime must be seconds, a duration string, or -1 for none; got ${typeof expire}.`,
      );
    }
    const seconds = toSeconds(expire, 'memcachedExpireTime');
    if (seconds < 0 && seconds !== -1) {
      throw new ValidationError(
        `memcachedExpireTime must be more than 0, or 0/-1 for none; got ${String(expire)}.`,
      );
    }
    // 0 means none too, as dogpile.cache's memcached_expire_time (whose default it is).
    expireSeconds = seconds > 0 ? Math.ceil(seconds) : undefined;
    if (expireSeconds !== undefined && expireSeconds > 2 ** 31) {
      throw new ValidationError(
        `memcachedExpireTime ${String(expire)} is too far in the future for Memcached; use -1 for no expiry.`,
      );
    }
  }

  const { distributedLock, lease } = resolveLockOptions(options, {
    owner: 'MemcachedBackend',
    distributedLock: false,
    announcesReleases: false,
  });

  return {
    connection,
    where,
    username: options.username as string | undefined,
    password: options.password as string | undefined,
    connectTimeoutMs: positiveMs(
      options.connectTimeout,
      'connectTimeout',
      DEFAULT_CONNECT_TIMEOUT_MS,
    ),
    commandTimeoutMs: positiveMs(
      options.commandTimeout,
      'commandTimeout',
      DEFAULT_COMMAND_TIMEOUT_MS,
    ),
    retries: retries as number,
    retryDelayMs: positiveMs(options.retryDelay, 'retryDelay', DEFAULT_RETRY_DELAY_MS),
    keepAlive: (options.keepAlive as boolean | undefined) ?? false,
    keyPlacement,
    expireSeconds,
    onValueTooLarge,
    keyMangler: options.keyMangler as KeyMangler | undefined,
    serializer,
    distributedLock,
    lease,
  };
}
