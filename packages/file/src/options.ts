import { join } from 'node:path';
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

/** The lock options without `distributedLock`, which only a backend has. */
export type FileLockSettings = Omit<DistributedLockOptions, 'distributedLock'>;

/**
 * Options of {@link FileLocks} and {@link withFileLocks}. Times are a number of **seconds** or a
 * string such as `'250ms'`, `'30s'`.
 *
 * @example
 * withFileLocks(backend, { lockDirectory: '/var/cache/myapp/locks', lockTimeout: '30s' });
 */
export interface FileLockOptions extends FileLockSettings {
  /**
   * The directory holding the locks, shared by every process that must exclude each other (the
   * same path on one host; see the README for network file systems). Created with its parents if
   * missing, and made again if it is removed while in use (its parent must still exist). Required.
   */
  lockDirectory: string;
  /**
   * Wake waiters within milliseconds of a release through `fs.watch` on `lockDirectory`; waiters
   * still poll every `lockPollMax` as a safety net. Turn it off on network file systems (NFS,
   * SMB, FUSE), where a watch never hears another host: waiters then poll from `lockPollMin` up
   * to `lockPollMax`. Default: `true`.
   */
  lockWatch?: boolean | undefined;
  // lockTimeout (default 10 s), lockAutoExtend (true), lockBlockingTimeout (-1: no limit),
  // lockPollMin ('5ms'), lockPollMax ('100ms' with lockWatch, '10ms' without) and lockPrefix
  // ('_lock') come from core's DistributedLockOptions, the same on every backend.
}

/**
 * Options of {@link FileBackend}. Times are a number of **seconds** or a string such as
 * `'250ms'`, `'30s'`, `'5m'`.
 *
 * @example
 * new FileBackend({
 *   directory: '/var/cache/myapp',
 *   fileExpirationTime: '1h',
 *   pruneInterval: '10m',
 *   lockTimeout: '30s',
 * });
 */
export interface FileBackendOptions extends DistributedLockOptions {
  /**
   * The directory holding one file per key (in `xx/yy/` subdirectories). It must exist and be
   * writable: the constructor checks, and throws `ERR_FILE_DIRECTORY` or
   * `ERR_FILE_NOT_WRITABLE`. Required.
   */
  directory: string;
  /**
   * Store-side expiry: a value is a miss (and `prune()` deletes it) this long after it was
   * written. Independent of the region's `expirationTime`, and normally longer, so the region can
   * still serve a stale value while one caller regenerates it. `-1` or unset: never.
   * Default: unset.
   */
  fileExpirationTime?: Duration | undefined;
  /**
   * Calls `prune()` this often on an unref'd timer (it does not keep the process alive). Unset:
   * only explicit `prune()` calls delete expired values and orphaned temporary files.
   * Default: unset.
   */
  pruneInterval?: Duration | undefined;
  /**
   * Read and write value files with synchronous calls. On a local disk a cached file is read in
   * microseconds of event-loop time, far less than the thread-pool round trips of an async read
   * (about 5x faster hits, see the README). Turn it off where a file operation can take long:
   * network file systems (NFS, SMB), slow or spinning disks under load, very large values.
   * Lock operations are always synchronous (a few metadata calls, on misses only). Default: `true`.
   */
  syncIO?: boolean | undefined;
  /** Where the locks live. Default: `<directory>/locks`. */
  lockDirectory?: string | undefined;
  /** As {@link FileLockOptions.lockWatch}. Default: `true`. */
  lockWatch?: boolean | undefined;
  // distributedLock defaults to true here: one creator per key for every process using the
  // directory is what this backend is for, and it costs no server.
  /** Turns payloads into bytes. Default `jsonSerializer` from `@dogpile/core`. */
  serializer?: Serializer | undefined;
  /** Applied by the region to every key before it reaches this backend. Default: none. */
  keyMangler?: KeyMangler | undefined;
}

/** {@link FileLockOptions}, validated. */
export interface ResolvedLockOptions {
  lockDirectory: string;
  lockWatch: boolean;
  lease: LeaseSettings;
}

/** {@link FileBackendOptions}, validated, times in milliseconds. */
export interface ResolvedBackendOptions {
  directory: string;
  /** `null`: values never expire store-side. */
  expirationMs: number | null;
  pruneIntervalMs: number | undefined;
  syncIO: boolean;
  distributedLock: boolean;
  locks: ResolvedLockOptions;
  serializer: Serializer | undefined;
  keyMangler: KeyMangler | undefined;
}

const LOCK_NAMES = LOCK_OPTION_NAMES.filter((name) => name !== 'distributedLock');
const KNOWN_LOCK_OPTIONS = new Set<string>(['lockDirectory', 'lockWatch', ...LOCK_NAMES]);
const KNOWN_BACKEND_OPTIONS = new Set<string>([
  'directory',
  'fileExpirationTime',
  'pruneInterval',
  'syncIO',
  'lockDirectory',
  'lockWatch',
  'serializer',
  'keyMangler',
  ...LOCK_OPTION_NAMES,
]);

/** Copies the given options, dropping `null`s (as `None` in a config file), rejecting unknown names. */
function known(
  owner: string,
  given: unknown,
  names: ReadonlySet<string>,
  example: string,
): Record<string, unknown> {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new ValidationError(`${owner} needs an options object, such as ${example}.`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    if (value === null || value === undefined) continue;
    if (!names.has(key) && !(key in LOCK_OPTION_ALIASES)) {
      const hint =
        key === 'distributedLock'
          ? ' (file locks are the point of withFileLocks: to go without, do not wrap the backend)'
          : '';
      throw new ValidationError(
        `${owner} has no option "${key}"${hint}. Known options: ${[...names].join(', ')}.`,
      );
    }
    options[key] = value;
  }
  return options;
}

function path(owner: string, value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new ValidationError(
      `${owner} ${what} must be a non-empty path; got ${JSON.stringify(value) ?? String(value)}.`,
    );
  }
  return value;
}

function flag(owner: string, value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ValidationError(
      `${owner} ${what} must be true or false; got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function resolveLocks(
  owner: string,
  options: Record<string, unknown>,
  lockDirectory: string,
  distributedLockDefault: boolean,
): { distributedLock: boolean; locks: ResolvedLockOptions } {
  const lockWatch = flag(owner, options.lockWatch, 'lockWatch', true);
  const { distributedLock, lease } = resolveLockOptions(options, {
    owner,
    distributedLock: distributedLockDefault,
    announcesReleases: lockWatch,
  });
  return { distributedLock, locks: { lockDirectory, lockWatch, lease } };
}

/** Validates the options of {@link FileLocks} / {@link withFileLocks}. */
export function resolveLockOnlyOptions(given: FileLockOptions): ResolvedLockOptions {
  const owner = 'FileLocks';
  const options = known(owner, given, KNOWN_LOCK_OPTIONS, "{ lockDirectory: './locks' }");
  if (options.lockDirectory === undefined) {
    throw new ValidationError(
      `${owner} needs lockDirectory: the directory every process that must exclude each other shares.`,
    );
  }
  const lockDirectory = path(owner, options.lockDirectory, 'lockDirectory');
  return resolveLocks(owner, options, lockDirectory, true).locks;
}

/** A duration that may be `-1`/unset for "none"; returns `null` then. */
function optionalMs(owner: string, value: unknown, what: string): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ValidationError(
      `${owner} ${what} must be seconds or a duration string such as '1h'; got ${typeof value}.`,
    );
  }
  const seconds = toSeconds(value, `${owner} ${what}`);
  if (seconds === -1) return null;
  const ms = Math.round(seconds * 1000);
  if (ms <= 0) {
    throw new ValidationError(
      `${owner} ${what} must be at least 1 ms, or -1 for never; got ${JSON.stringify(value)}.`,
    );
  }
  return ms;
}

/** Validates every option of {@link FileBackend} at construction. */
export function resolveBackendOptions(given: FileBackendOptions): ResolvedBackendOptions {
  const owner = 'FileBackend';
  const options = known(owner, given, KNOWN_BACKEND_OPTIONS, "{ directory: './cache' }");
  if (options.directory === undefined) {
    throw new ValidationError(
      `${owner} needs directory: an existing, writable directory to keep one file per key in.`,
    );
  }
  const directory = path(owner, options.directory, 'directory');
  const lockDirectory =
    options.lockDirectory === undefined
      ? join(directory, 'locks')
      : path(owner, options.lockDirectory, 'lockDirectory');
  const { distributedLock, locks } = resolveLocks(owner, options, lockDirectory, true);
  const expirationMs = optionalMs(owner, options.fileExpirationTime, 'fileExpirationTime');
  const pruneIntervalMs = optionalMs(owner, options.pruneInterval, 'pruneInterval') ?? undefined;
  const serializer = options.serializer as Serializer | undefined;
  if (
    serializer !== undefined &&
    (typeof serializer !== 'object' ||
      typeof serializer.serialize !== 'function' ||
      typeof serializer.deserialize !== 'function')
  ) {
    throw new ValidationError(
      `${owner} serializer must have serialize() and deserialize() methods.`,
    );
  }
  if (options.keyMangler !== undefined && typeof options.keyMangler !== 'function') {
    throw new ValidationError(`${owner} keyMangler must be a function (key: string) => string.`);
  }
  return {
    directory,
    expirationMs,
    pruneIntervalMs,
    syncIO: flag(owner, options.syncIO, 'syncIO', true),
    distributedLock,
    locks,
    serializer,
    keyMangler: options.keyMangler as KeyMangler | undefined,
  };
}
