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
  warnDeprecatedOption,
} from '@dogpile/core';
import type BetterSqlite3 from 'better-sqlite3';

/** A better-sqlite3 connection, as `new Database(...)` returns it. */
export type SqliteDatabase = BetterSqlite3.Database;

/** The `PRAGMA synchronous` levels; see https://sqlite.org/pragma.html#pragma_synchronous. */
export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

/**
 * Options of {@link SqliteBackend}. Every time is a {@link Duration}: a number of **seconds**, or a
 * string such as `'250ms'`, `'30s'`, `'5m'`.
 *
 * @example
 * new SqliteBackend({
 *   filename: '/var/cache/myapp/dogpile.db',
 *   sqliteExpirationTime: '1h',
 *   pruneInterval: '10m',
 *   lockTimeout: '30s',
 * });
 */
export interface SqliteBackendOptions extends DistributedLockOptions {
  /**
   * The database file, created if missing (its directory must exist and be writable), or
   * `':memory:'` for a private in-memory database (no sharing between processes). Exactly one of
   * `filename` and `database` is required.
   */
  filename?: string | undefined;
  /**
   * An open better-sqlite3 connection to use instead of `filename`. `close()` leaves it open; its
   * pragmas are only changed when `wal`, `busyTimeout` or `synchronous` are passed explicitly.
   */
  database?: SqliteDatabase | undefined;
  /**
   * The table holding the values: letters, digits and `_`, starting with a letter or `_`, at most
   * 58 characters, not starting with `sqlite_`. The lock table is `<table>_locks`.
   * Default `'dogpile_cache'`.
   */
  table?: string | undefined;
  /**
   * Store-side expiry: a stored row is deleted (lazily on read, or by `prune()`) this long after
   * it was written. Independent of the region's `expirationTime`, and normally longer, so the
   * region can still serve a stale value while one caller regenerates it. `-1` or unset: never.
   * (`expirationTime` is its deprecated old name.) Default: unset.
   */
  sqliteExpirationTime?: Duration | undefined;
  /** @deprecated The old name of `sqliteExpirationTime`, which means the same. */
  expirationTime?: Duration | undefined;
  /**
   * How long a statement waits for another connection's write lock before failing with
   * `ERR_SQLITE_BUSY` (SQLite's busy timeout). Default `'5s'`.
   */
  busyTimeout?: Duration | undefined;
  /**
   * Switch the file to write-ahead logging, so readers never wait for the writer and each commit
   * costs one append instead of a journal round trip. Ignored for `':memory:'`. Default `true`.
   */
  wal?: boolean | undefined;
  /**
   * `PRAGMA synchronous` for a connection this backend opens. `'NORMAL'` with WAL cannot corrupt
   * the file; a power cut may lose the last commits, which a cache can afford. Default `'NORMAL'`
   * with WAL, SQLite's own default (`'FULL'`) without.
   */
  synchronous?: SqliteSynchronous | undefined;
  /**
   * Run `PRAGMA quick_check` on this backend's two tables when it is created, so a damaged file
   * fails at once with `ERR_SQLITE_CORRUPT` instead of on some later read. It reads the whole
   * table (about 15 ms for 100 000 small rows, see the README); turn it off for very large
   * caches. Default `true`.
   */
  integrityCheck?: boolean | undefined;
  /**
   * Calls `prune()` this often on an unref'd timer (it does not keep the process alive). Unset:
   * only expired rows that are read, and explicit `prune()` calls, are deleted. Default: unset.
   */
  pruneInterval?: Duration | undefined;
  // distributedLock, lockTimeout, lockAutoExtend, lockBlockingTimeout, lockPollMin, lockPollMax
  // and lockPrefix come from core's DistributedLockOptions, the same on every backend. Here
  // distributedLock defaults to true: one lock for every process on the host is what this backend
  // is for, and it costs no server. SQLite cannot announce releases, so waiters poll: lockPollMax
  // defaults to 10 ms (one indexed read of the lock row per check).
  /** Turns payloads into bytes. Default `jsonSerializer` from `@dogpile/core`. */
  serializer?: Serializer | undefined;
  /** Applied by the region to every key before it reaches this backend. Default: none. */
  keyMangler?: KeyMangler | undefined;
}

/** The validated options, times in milliseconds. */
export interface ResolvedOptions {
  filename: string | undefined;
  database: SqliteDatabase | undefined;
  table: string;
  /** `null`: rows never expire server-side. */
  expirationMs: number | null;
  /** `undefined`: leave the connection's own setting alone. */
  busyTimeoutMs: number | undefined;
  wal: boolean | undefined;
  synchronous: SqliteSynchronous | undefined;
  integrityCheck: boolean;
  pruneIntervalMs: number | undefined;
  distributedLock: boolean;
  /** The shared lock settings, for core's `LeaseLocks`. */
  lease: LeaseSettings;
  serializer: Serializer | undefined;
  keyMangler: KeyMangler | undefined;
}

/** Identifiers this backend accepts for its tables; anything else is refused, never quoted away. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,57}$/;

const KNOWN_OPTIONS = new Set<string>([
  'filename',
  'database',
  'table',
  'sqliteExpirationTime',
  'busyTimeout',
  'wal',
  'synchronous',
  'integrityCheck',
  'pruneInterval',
  'serializer',
  'keyMangler',
  ...LOCK_OPTION_NAMES,
]);

/** Old names still accepted, with a deprecation warning once: alias → option. */
const ALIASES: Record<string, string> = { expirationTime: 'sqliteExpirationTime' };

const SYNCHRONOUS = new Set<string>(['OFF', 'NORMAL', 'FULL', 'EXTRA']);

/** Checks a table name; throws {@link ValidationError} for anything but a plain identifier. */
export function validateTableName(table: unknown): string {
  if (typeof table !== 'string' || !TABLE_NAME.test(table) || /^sqlite_/i.test(table)) {
    throw new ValidationError(
      `SqliteBackend table must be a plain identifier (letters, digits and _, starting with a letter or _, ` +
        `at most 58 characters, not starting with sqlite_); got ${JSON.stringify(table)}.`,
    );
  }
  return table;
}

function optionalBoolean(value: unknown, what: string, fallback: boolean): boolean;
function optionalBoolean(
  value: unknown,
  what: string,
  fallback: boolean | undefined,
): boolean | undefined;
function optionalBoolean(value: unknown, what: string, fallback: boolean | undefined) {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ValidationError(
      `SqliteBackend ${what} must be true or false; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function ms(value: Duration, what: string): number {
  return Math.round(toSeconds(value, `SqliteBackend ${what}`) * 1000);
}

/** A duration that may be `-1`/unset for "none"; returns `null` then. */
function optionalMs(value: Duration | undefined, what: string): number | null {
  if (value === undefined) return null;
  const seconds = toSeconds(value, `SqliteBackend ${what}`);
  return seconds === -1 ? null : Math.round(seconds * 1000);
}

/** A duration that must be a positive time (not `-1`, not 0). */
function positiveMs(value: Duration, what: string): number {
  const result = ms(value, what);
  if (result <= 0) {
    throw new ValidationError(
      `SqliteBackend ${what} must be at least 1 ms; got ${JSON.stringify(value)}.`,
    );
  }
  return result;
}

/**
 * Validates every option at construction, so a typo fails loudly instead of being ignored. A
 * `null` option counts as unset, as `None` does in a config file read by `configureFromConfig`.
 */
export function resolveOptions(given: SqliteBackendOptions | undefined): ResolvedOptions {
  if (given === null || typeof given !== 'object') {
    throw new ValidationError(
      "SqliteBackend needs an options object, such as { filename: './cache.db' } or { database }.",
    );
  }
  const options: SqliteBackendOptions = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === null) continue;
    if (key in LOCK_OPTION_ALIASES) {
      // Resolved, with their warning, by core's resolveLockOptions.
      (options as Record<string, unknown>)[key] = value;
      continue;
    }
    const name = ALIASES[key] ?? key;
    if (!KNOWN_OPTIONS.has(name)) {
      throw new ValidationError(
        `SqliteBackend has no option "${key}". Known options: ${[...KNOWN_OPTIONS].join(', ')}.`,
      );
    }
    if (name !== key) {
      if ((given as Record<string, unknown>)[name] !== undefined) {
        throw new ValidationError(
          `SqliteBackend got both "${key}" and "${name}", which name the same option; give "${name}".`,
        );
      }
      warnDeprecatedOption('SqliteBackend', key, name);
    }
    (options as Record<string, unknown>)[name] = value;
  }
  const { filename, database } = options;
  if ((filename === undefined) === (database === undefined)) {
    throw new ValidationError(
      "SqliteBackend needs exactly one of filename (a path, or ':memory:') and database (an open better-sqlite3 Database).",
    );
  }
  if (filename !== undefined && (typeof filename !== 'string' || filename === '')) {
    throw new ValidationError(
      `SqliteBackend filename must be a non-empty path or ':memory:'; got ${JSON.stringify(filename)}.`,
    );
  }
  if (
    database !== undefined &&
    (database === null ||
      typeof database !== 'object' ||
      typeof (database as Partial<SqliteDatabase>).prepare !== 'function')
  ) {
    throw new ValidationError('SqliteBackend database must be an open better-sqlite3 Database.');
  }
  if (database !== undefined && !database.open) {
    throw new ValidationError(
      'SqliteBackend database is closed; pass an open better-sqlite3 Database.',
    );
  }

  const synchronous = options.synchronous;
  if (
    synchronous !== undefined &&
    (typeof synchronous !== 'string' || !SYNCHRONOUS.has(synchronous))
  ) {
    throw new ValidationError(
      `SqliteBackend synchronous must be one of OFF, NORMAL, FULL, EXTRA; got ${JSON.stringify(synchronous)}.`,
    );
  }

  const ownsDatabase = database === undefined;
  const wal = optionalBoolean(options.wal, 'wal', ownsDatabase ? true : undefined);
  const busyTimeoutMs =
    options.busyTimeout === undefined
      ? ownsDatabase
        ? 5000
        : undefined
      : ms(options.busyTimeout, 'busyTimeout');
  if (busyTimeoutMs !== undefined && busyTimeoutMs < 0) {
    throw new ValidationError(
      'SqliteBackend busyTimeout must be 0 or more; -1 is not allowed here.',
    );
  }
  // 0 means no expiry, as for every expiration time in the project (and Python's store TTLs).
  const rawExpirationMs = optionalMs(options.sqliteExpirationTime, 'sqliteExpirationTime');
  const expirationMs = rawExpirationMs === 0 ? null : rawExpirationMs;
  const pruneIntervalMs =
    options.pruneInterval === undefined
      ? undefined
      : positiveMs(options.pruneInterval, 'pruneInterval');

  const { distributedLock, lease } = resolveLockOptions(options as Record<string, unknown>, {
    owner: 'SqliteBackend',
    distributedLock: true,
    announcesReleases: false,
  });

  const serializer = options.serializer;
  if (
    serializer !== undefined &&
    (serializer === null ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw new ValidationError(
      'SqliteBackend serializer must have serialize() and deserialize() methods.',
    );
  }
  if (options.keyMangler !== undefined && typeof options.keyMangler !== 'function') {
    throw new ValidationError(
      'SqliteBackend keyMangler must be a function (key: string) => string.',
    );
  }

  return {
    filename,
    database,
    table: validateTableName(options.table ?? 'dogpile_cache'),
    expirationMs,
    busyTimeoutMs,
    wal,
    synchronous: synchronous ?? (ownsDatabase && wal ? 'NORMAL' : undefined),
    integrityCheck: optionalBoolean(options.integrityCheck, 'integrityCheck', true),
    pruneIntervalMs,
    distributedLock,
    lease,
    serializer,
    keyMangler: options.keyMangler,
  };
}
