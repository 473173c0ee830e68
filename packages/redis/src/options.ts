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
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { RedisBackendError } from './errors.js';

/** A Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Options of {@link RedisBackend}. Give at most one way to connect: `client`, `url`,
 * `host`/`port`, `sentinels` + `name`, or `startupNodes`; with none, it connects to
 * `127.0.0.1:6379`.
 *
 * @example
 * new RedisBackend({
 *   url: 'redis://:secret@cache.internal:6379/0',
 *   redisExpirationTime: '1h',
 *   distributedLock: true,
 *   lockTimeout: '30s',
 * });
 * new RedisBackend({ sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster', distributedLock: true });
 * new RedisBackend({ startupNodes: [{ host: 'n1', port: 7000 }], distributedLock: true });
 * new RedisBackend({ client: existingIoredisClient }); // close() leaves it open
 */
export interface RedisBackendOptions extends DistributedLockOptions {
  // ------------------------------------------------------------------ connection

  /**
   * A Redis URL: `redis://[[user]:password@]host[:port][/db]`, `rediss://` for TLS, or
   * `unix:///path/to/redis.sock`. Default: none (`127.0.0.1:6379`).
   */
  url?: string;
  /** Server host name or address. Default: `'127.0.0.1'` (with `port`), or from `url`. */
  host?: string;
  /** Server port. Default: `6379`, or from `url`. */
  port?: number;
  /** ACL user name (Redis 6+). Default: none, or from `url`. */
  username?: string;
  /** Password for AUTH. Default: none, or from `url`. */
  password?: string;
  /** Database number (standalone and Sentinel only). Default: `0`, or from `url`. */
  db?: number;
  /**
   * An ioredis `Redis` or `Cluster` client to use instead of connecting. The backend never closes
   * it: `close()` leaves it open for its owner. Its own timeouts and retry settings apply. Default:
   * none.
   */
  client?: Redis | Cluster;
  /**
   * Sentinel addresses, as `{ host, port }` or `[host, port]`: Sentinel mode, connecting to the
   * master the Sentinels know as `name`. Default: none.
   */
  sentinels?: ReadonlyArray<SentinelAddress | readonly [host: string, port: number]>;
  /**
   * The Sentinel master group name (Sentinel mode); Python dogpile.cache's `service_name` is
   * accepted as an alias. Default: none; required with `sentinels`.
   */
  name?: string;
  /** Password of the Sentinels themselves, when they require one. Default: none. */
  sentinelPassword?: string;
  /** Redis Cluster seed nodes: Cluster mode. Default: none. */
  startupNodes?: readonly ClusterNode[];
  /**
   * More ioredis options for the connections this backend opens (TLS, `keyPrefix`,
   * `connectionName`, ...); in Cluster mode they apply to every node connection. They win over
   * the defaults chosen here: `maxRetriesPerRequest: 1`, `enableAutoPipelining` off with
   * `batchReads` (which does better for reads) and on without it, and
   * `connectTimeout`/`commandTimeout` from the options below. Default: `{}`.
   */
  redisOptions?: RedisOptions;
  /**
   * More ioredis Cluster options (Cluster mode: `natMap`, `scaleReads`, ...); they win over the
   * default chosen here, `enableAutoPipelining: true`. Default: `{}`.
   */
  clusterOptions?: Omit<ClusterOptions, 'redisOptions'>;
  /**
   * Gather the reads (GETs) issued in one event-loop turn while other reads of this backend are in
   * flight into one `MGET`, and send a read with none in flight at once. Far less client CPU per
   * read than one command each (or ioredis's auto-pipelining, which also makes a lone read wait
   * for the next turn). A key holding another type (a list, a hash) read in such a batch is a
   * plain miss: `MGET` answers nil for it where a lone `GET` answers `WRONGTYPE`. Standalone and
   * Sentinel only; in Cluster mode reads stay one command each, auto-pipelined. Default: `true`.
   */
  batchReads?: boolean;
  /** How long to wait for a connection to become ready, in seconds (or `'500ms'`). Default: `5`. */
  connectTimeout?: Duration;
  /**
   * How long a command may wait for its reply, in seconds (or `'500ms'`), so a dead or hung server
   * cannot block a caller forever. Default: `5`.
   */
  commandTimeout?: Duration;

  // ------------------------------------------------------------------ storage

  /**
   * Server-side expiry of stored values, in seconds (or a duration string), set with `PX` on every
   * write. Make it longer than the region's `expirationTime`, so that stale values can still be
   * served while one caller regenerates. `-1`, `0` or `null`: values never expire on the server.
   * Default: none.
   */
  redisExpirationTime?: Duration | null;
  /** Applied to every key by the region, unless the region has its own. Default: none. */
  keyMangler?: KeyMangler;
  /** How payloads become bytes. Default: core's `jsonSerializer` (readable by Python dogpile.cache). */
  serializer?: Serializer;

  // ------------------------------------------------------------------ distributed lock
  // distributedLock, lockTimeout, lockAutoExtend, lockBlockingTimeout, lockPollMin, lockPollMax
  // and lockPrefix come from core's DistributedLockOptions: the same on every backend.

  /**
   * Publish on `<lockPrefix>:released` when a lock is released, and let waiters subscribe (one
   * subscriber connection per backend), so they wake within milliseconds. Without it (or when the
   * holder does not publish, as Python dogpile.cache does not) waiters notice by polling. While
   * subscribed, waiters poll only every `lockPollMax`. Default: `true`.
   */
  lockNotify?: boolean;
}

/** How the backend reaches Redis. */
export type ConnectionMode =
  | { kind: 'client'; client: Redis | Cluster }
  | { kind: 'standalone'; url: string | undefined; options: RedisOptions }
  | { kind: 'sentinel'; options: RedisOptions }
  | { kind: 'cluster'; startupNodes: ClusterNode[]; options: ClusterOptions };

/** {@link RedisBackendOptions} checked and converted to milliseconds. */
export interface ResolvedOptions {
  connection: ConnectionMode;
  /** A description of the server(s) for error messages, with no password in it. */
  where: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** `undefined`: no server-side expiry. */
  expirationMs: number | undefined;
  keyMangler: KeyMangler | undefined;
  serializer: Serializer | undefined;
  distributedLock: boolean;
  lockNotify: boolean;
  batchReads: boolean;
  /** The shared lock settings, for core's `LeaseLocks`. */
  lease: LeaseSettings;
}

const KNOWN = new Set<string>([
  'url',
  'host',
  'port',
  'username',
  'password',
  'db',
  'client',
  'sentinels',
  'name',
  'sentinelPassword',
  'startupNodes',
  'redisOptions',
  'clusterOptions',
  'connectTimeout',
  'commandTimeout',
  'redisExpirationTime',
  'keyMangler',
  'serializer',
  'lockNotify',
  'batchReads',
  ...LOCK_OPTION_NAMES,
]);

// Python dogpile.cache argument names (after configureFromConfig's camelCasing) that mean the same.
const ALIASES: Record<string, string> = {
  socketTimeout: 'commandTimeout',
  socketConnectTimeout: 'connectTimeout',
  serviceName: 'name',
};

// Python-only arguments that have no meaning here (ioredis keeps TCP keepalive on by default) and
// are accepted so shared configs still load.
const IGNORED = new Set<string>(['threadLocalLock', 'socketKeepalive', 'socketKeepaliveOptions']);

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

function positiveMs(value: Duration | null | undefined, what: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const seconds = toSeconds(value, what);
  if (seconds <= 0) throw new ValidationError(`${what} must be more than 0; got ${String(value)}.`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

function optionalMs(
  value: Duration | null | undefined,
  what: string,
  allowZero = false,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const seconds = toSeconds(value, what);
  if (seconds === -1) return undefined;
  if (seconds === 0 && allowZero) return 0;
  if (seconds <= 0)
    throw new ValidationError(`${what} must be more than 0, or -1 for none; got ${String(value)}.`);
  return Math.max(1, Math.ceil(seconds * 1000));
}

function isClient(value: unknown): value is Redis | Cluster {
  // Duck-typed: an application may hold a client from another copy of ioredis.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).getBuffer === 'function' &&
    typeof (value as Redis).duplicate === 'function' &&
    typeof (value as Redis).status === 'string'
  );
}

function checkType(options: Record<string, unknown>, key: string, type: string): void {
  const value = options[key];
  if (value !== undefined && value !== null && typeof value !== type) {
    throw new ValidationError(`RedisBackend option ${key} must be a ${type}; got ${typeof value}.`);
  }
}

/** Parses `url` far enough to refuse what ioredis would misread, and to describe it without its password. */
function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new RedisBackendError(
      'ERR_REDIS_URL',
      `The url "${redact(url)}" is not a valid URL. Use redis://[[user]:password@]host[:port][/db], rediss:// for TLS, or unix:///path/to/socket.`,
      { cause: error },
    );
  }
  if (parsed.protocol === 'unix:') return `unix:${parsed.pathname}`;
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RedisBackendError(
      'ERR_REDIS_URL',
      `The url "${redact(url)}" has protocol "${parsed.protocol}"; use redis://, rediss:// (TLS) or unix://.`,
    );
  }
  if (!parsed.hostname) {
    throw new RedisBackendError('ERR_REDIS_URL', `The url "${redact(url)}" names no host.`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) {
    throw new RedisBackendError(
      'ERR_REDIS_URL',
      `The url "${redact(url)}" has path "/${db}"; the path of a Redis URL is the database number, such as /0.`,
    );
  }
  if (parsed.port !== '' && (Number(parsed.port) < 1 || Number(parsed.port) > 65535)) {
    throw new RedisBackendError('ERR_REDIS_URL', `The url "${redact(url)}" has an invalid port.`);
  }
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** Checks {@link RedisBackendOptions}, applies defaults and converts durations to milliseconds. */
export function resolveOptions(input: RedisBackendOptions = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null) {
    throw new ValidationError('RedisBackend takes an options object.');
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (IGNORED.has(key)) continue;
    // Lock aliases (Python's lock_sleep among them) are resolved, with their warning, by core.
    const name = key in LOCK_OPTION_ALIASES ? key : (ALIASES[key] ?? key);
    if (!KNOWN.has(name) && !(key in LOCK_OPTION_ALIASES)) {
      throw new ValidationError(
        `Unknown RedisBackend option "${key}". Known options: ${[...KNOWN].join(', ')}. Pass ioredis options in redisOptions.`,
      );
    }
    if (value !== undefined && options[name] === undefined) options[name] = value;
  }
  for (const key of ['url', 'host', 'username', 'password', 'name', 'sentinelPassword']) {
    checkType(options, key, 'string');
  }
  checkType(options, 'lockNotify', 'boolean');
  checkType(options, 'batchReads', 'boolean');
  for (const key of ['redisOptions', 'clusterOptions']) checkType(options, key, 'object');
  for (const key of ['keyMangler']) checkType(options, key, 'function');
  for (const key of ['port', 'db']) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0)) {
      throw new ValidationError(
        `RedisBackend option ${key} must be a non-negative integer; got ${String(value)}.`,
      );
    }
  }
  if (
    options.port !== undefined &&
    ((options.port as number) < 1 || (options.port as number) > 65535)
  ) {
    throw new ValidationError(
      `RedisBackend option port must be between 1 and 65535; got ${String(options.port)}.`,
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
      'RedisBackend option serializer must have serialize() and deserialize() methods.',
    );
  }

  const connectTimeoutMs = positiveMs(
    options.connectTimeout as Duration,
    'connectTimeout',
    DEFAULT_CONNECT_TIMEOUT_MS,
  );
  const commandTimeoutMs = positiveMs(
    options.commandTimeout as Duration,
    'commandTimeout',
    DEFAULT_COMMAND_TIMEOUT_MS,
  );

  const modes = [
    options.client !== undefined && 'client',
    options.url !== undefined && 'url',
    (options.host !== undefined || options.port !== undefined) && 'host/port',
    options.sentinels !== undefined && 'sentinels',
    options.startupNodes !== undefined && 'startupNodes',
  ].filter((mode): mode is string => typeof mode === 'string');
  if (modes.length > 1) {
    throw new ValidationError(
      `RedisBackend got ${modes.join(' and ')}; give only one way to connect.`,
    );
  }

  // Fail fast rather than queue commands for a server that is not there: the region can serve
  // stale values or report the error, which beats a caller hanging on a reconnect loop.
  // A cache sees many small concurrent reads, and one command (one write syscall, one reply to
  // parse) per read is most of a client's CPU time: batchReads gathers them into MGETs, without
  // the wait for the next turn that ioredis's auto-pipelining puts on a lone read. Without
  // batchReads, auto-pipelining is the next best thing.
  const batchReads = (options.batchReads as boolean | undefined) ?? true;
  const base: RedisOptions = {
    connectTimeout: connectTimeoutMs,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: !batchReads,
    ...(options.username === undefined ? {} : { username: options.username as string }),
    ...(options.password === undefined ? {} : { password: options.password as string }),
    ...(options.db === undefined ? {} : { db: options.db as number }),
    ...((options.redisOptions as RedisOptions | undefined) ?? {}),
  };

  let connection: ConnectionMode;
  let where: string;
  if (options.client !== undefined) {
    if (!isClient(options.client)) {
      throw new ValidationError(
        'RedisBackend option client must be an ioredis Redis or Cluster instance.',
      );
    }
    connection = { kind: 'client', client: options.client };
    const client = options.client as Redis;
    where = client.options?.host
      ? `${client.options.host}:${client.options.port}`
      : 'the given client';
  } else if (options.sentinels !== undefined) {
    const given = options.sentinels as Array<SentinelAddress | [string, number]>;
    if (!Array.isArray(given) || given.length === 0) {
      throw new ValidationError(
        'RedisBackend option sentinels must be a non-empty array of { host, port }.',
      );
    }
    // Python dogpile.cache configs list Sentinels as [host, port] pairs.
    const sentinels = given.map((entry) =>
      Array.isArray(entry) ? { host: entry[0], port: entry[1] } : entry,
    );
    for (const { host, port } of sentinels) {
      if (typeof host !== 'string' || !Number.isInteger(port)) {
        throw new ValidationError(
          'Each of the sentinels must be { host: string, port: number } or [host, port].',
        );
      }
    }
    if (typeof options.name !== 'string' || options.name === '') {
      throw new ValidationError(
        'RedisBackend option name (the Sentinel master group name) is required with sentinels.',
      );
    }
    connection = {
      kind: 'sentinel',
      options: {
        ...base,
        sentinels: sentinels.map(({ host, port }) => ({ host, port })),
        name: options.name,
        ...(options.sentinelPassword === undefined
          ? {}
          : { sentinelPassword: options.sentinelPassword as string }),
      },
    };
    where = `master "${options.name}" via Sentinels ${sentinels.map((s) => `${s.host}:${s.port}`).join(', ')}`;
  } else if (options.startupNodes !== undefined) {
    const nodes = options.startupNodes as ClusterNode[];
    if (!Array.isArray(nodes) || nodes.length === 0) {
      throw new ValidationError(
        'RedisBackend option startupNodes must be a non-empty array of { host, port }.',
      );
    }
    if (options.db !== undefined && options.db !== 0) {
      throw new ValidationError('Redis Cluster has only database 0; remove the db option.');
    }
    // Reads are not batched here (MGET cannot cross slots): auto-pipelining for every command.
    const { db: _db, ...nodeOptions } = {
      ...base,
      enableAutoPipelining: true,
      ...((options.redisOptions as RedisOptions | undefined) ?? {}),
    };
    connection = {
      kind: 'cluster',
      startupNodes: [...nodes],
      options: {
        enableAutoPipelining: true,
        ...((options.clusterOptions as ClusterOptions | undefined) ?? {}),
        redisOptions: nodeOptions,
      },
    };
    where = `Cluster ${nodes.map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n))).join(', ')}`;
  } else if (options.url !== undefined) {
    where = checkUrl(options.url as string);
    connection = { kind: 'standalone', url: options.url as string, options: base };
  } else {
    const host = (options.host as string | undefined) ?? '127.0.0.1';
    const port = (options.port as number | undefined) ?? 6379;
    connection = { kind: 'standalone', url: undefined, options: { host, port, ...base } };
    where = `${host}:${port}`;
  }

  const lockNotify = (options.lockNotify as boolean | undefined) ?? true;
  const { distributedLock, lease } = resolveLockOptions(options, {
    owner: 'RedisBackend',
    distributedLock: false,
    announcesReleases: lockNotify,
  });

  return {
    connection,
    where,
    connectTimeoutMs,
    commandTimeoutMs,
    // 0 means none too, as Python dogpile.cache's redis_expiration_time (whose default it is).
    expirationMs:
      optionalMs(
        options.redisExpirationTime as Duration | null | undefined,
        'redisExpirationTime',
        true,
      ) || undefined,
    keyMangler: options.keyMangler as KeyMangler | undefined,
    serializer,
    distributedLock,
    lockNotify,
    batchReads,
    lease,
  };
}
