import { type Duration, toSeconds } from '../duration.js';
import { ValidationError } from '../errors.js';

/**
 * The lock options every distributed backend takes, with the same names, units and defaults
 * (Redis, SQLite, Memcached, files, and third-party backends built on {@link LeaseMutex}). Times
 * are seconds or duration strings.
 *
 * @example
 * new RedisBackend({ url, distributedLock: true, lockTimeout: '30s', lockBlockingTimeout: '5s' });
 */
export interface DistributedLockOptions {
  /**
   * Give the region a lock shared by every process using the store, so one creator runs per key
   * across all of them. The default depends on the backend and its README says why: `false` on
   * server backends (as in dogpile.cache), `true` where the lock is the point (SQLite, files).
   */
  distributedLock?: boolean;
  /**
   * The lease's time to live, in seconds or a duration string (`'30s'`). A live holder extends it
   * while its creator runs (`lockAutoExtend`), so it only bounds how long a holder that died
   * blocks the others. More than 0. Default: `10`.
   */
  lockTimeout?: Duration;
  /** Extend a held lease every `lockTimeout / 3` until it is released. Default: `true`. */
  lockAutoExtend?: boolean;
  /**
   * How long a blocking acquire (or a wait for a release) waits before giving up and resolving
   * `false`, in seconds or a duration string; `0` tries once. `-1` or `null`: until acquired or
   * aborted (the region's `lockWaitTimeout` aborts it). Default: `-1`.
   */
  lockBlockingTimeout?: Duration | null;
  /**
   * The first delay between a waiter's checks, in seconds or a duration string (`'5ms'`). The
   * delay doubles up to `lockPollMax`, and each wait is between half and all of it ("equal
   * jitter"), so waiters on one key do not check in lockstep. Default: `'5ms'`.
   */
  lockPollMin?: Duration;
  /**
   * The longest delay between a waiter's checks, in seconds or a duration string: how late a
   * waiter may notice a release it was not told about. Python dogpile.cache's `lock_sleep` (and
   * the old `lockSleep`/`lockMaxSleep`) are accepted as its alias. Default: `'100ms'` on a store
   * that announces releases (Redis with `lockNotify`), where polling is only a safety net, and
   * `'10ms'` on one that must be polled (SQLite, Memcached, files without watching).
   */
  lockPollMax?: Duration;
  /**
   * Prepended to a key to name its lock: the lock of `key` is `<lockPrefix><key>`. The default is
   * Python dogpile.cache's, so both take the same lock for a key. Default: `'_lock'`.
   */
  lockPrefix?: string;
  /** @deprecated Python's `lock_sleep` and an old name: use `lockPollMax`, which means the same. */
  lockSleep?: Duration;
  /** @deprecated An old name: use `lockPollMax`, which means the same. */
  lockMaxSleep?: Duration;
  /** @deprecated An old name: use `lockAutoExtend`, which means the same. */
  lockExtend?: boolean;
}

/** {@link DistributedLockOptions} resolved to milliseconds, as {@link LeaseLocks} uses them. */
export interface LeaseSettings {
  readonly lockTimeoutMs: number;
  readonly lockAutoExtend: boolean;
  /** `null`: wait until acquired or aborted. */
  readonly lockBlockingTimeoutMs: number | null;
  readonly lockPollMinMs: number;
  readonly lockPollMaxMs: number;
  readonly lockPrefix: string;
}

/** What {@link resolveLockOptions} needs to know about the backend. */
export interface LockDefaults {
  /** The backend's name for messages, e.g. `'RedisBackend'`. */
  owner: string;
  /** The backend's default for `distributedLock`. */
  distributedLock: boolean;
  /** Whether its store announces releases (`LeaseStore.watchReleases`): sets `lockPollMax`'s default. */
  announcesReleases: boolean;
}

/** The names of {@link DistributedLockOptions}, for a backend's list of known options. */
export const LOCK_OPTION_NAMES: readonly string[] = Object.freeze([
  'distributedLock',
  'lockTimeout',
  'lockAutoExtend',
  'lockBlockingTimeout',
  'lockPollMin',
  'lockPollMax',
  'lockPrefix',
]);

/** Old and Python names still accepted (with a deprecation warning once): alias → option. */
export const LOCK_OPTION_ALIASES: Readonly<Record<string, keyof DistributedLockOptions>> =
  Object.freeze({
    lockSleep: 'lockPollMax',
    lockMaxSleep: 'lockPollMax',
    lockExtend: 'lockAutoExtend',
  });

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
export const DEFAULT_LOCK_POLL_MIN_MS = 5;
const DEFAULT_POLL_MAX_ANNOUNCED_MS = 100;
const DEFAULT_POLL_MAX_POLLED_MS = 10;

const warned = new Set<string>();

/** Warns once per process that `alias` is deprecated in favour of `name`. */
export function warnDeprecatedOption(owner: string, alias: string, name: string): void {
  const id = `${owner}:${alias}`;
  if (warned.has(id)) return;
  warned.add(id);
  process.emitWarning(
    `${owner} option "${alias}" is deprecated and will be removed; use "${name}", which means the same.`,
    { type: 'DeprecationWarning', code: 'DOGPILE_DEPRECATED_OPTION' },
  );
}

function milliseconds(value: unknown, what: string): number {
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ValidationError(
      `${what} must be a number of seconds or a duration string such as '250ms'; got ${value === null ? 'null' : typeof value}.`,
    );
  }
  const seconds = toSeconds(value, what);
  if (seconds <= 0) {
    throw new ValidationError(
      `${what} must be more than 0 seconds; got ${JSON.stringify(value)}. Durations are seconds, or strings such as '250ms'.`,
    );
  }
  // Whole milliseconds, never rounded down to 0: stores take integer TTLs.
  return Math.max(1, Math.ceil(seconds * 1000));
}

function flag(value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw new ValidationError(
      `${what} must be a boolean (true or false); got ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

/**
 * Reads the lock options out of a backend's options object (the names of
 * {@link DistributedLockOptions}, and their deprecated aliases), checks them and applies the
 * shared defaults. `null` counts as absent, as `None` in a config file. Other keys are ignored:
 * the backend checks its own.
 *
 * @example
 * const { distributedLock, lease } = resolveLockOptions(options, {
 *   owner: 'MyBackend', distributedLock: false, announcesReleases: false,
 * });
 */
export function resolveLockOptions(
  options: Readonly<Record<string, unknown>>,
  defaults: LockDefaults,
): { distributedLock: boolean; lease: LeaseSettings } {
  const { owner } = defaults;
  const given: Record<string, { value: unknown; as: string }> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || value === null) continue;
    const name = LOCK_OPTION_ALIASES[key] ?? (LOCK_OPTION_NAMES.includes(key) ? key : undefined);
    if (name === undefined) continue;
    const previous = given[name];
    if (previous !== undefined) {
      throw new ValidationError(
        `${owner} got both "${previous.as}" and "${key}", which name the same option ${name}; give one.`,
      );
    }
    if (key !== name) warnDeprecatedOption(owner, key, name);
    given[name] = { value, as: key };
  }
  const opt = (name: keyof DistributedLockOptions) => given[name]?.value;
  const label = (name: keyof DistributedLockOptions) => `${owner} ${given[name]?.as ?? name}`;

  const lockPrefix = opt('lockPrefix') ?? '_lock';
  if (typeof lockPrefix !== 'string') {
    throw new ValidationError(`${label('lockPrefix')} must be a string; got ${typeof lockPrefix}.`);
  }
  const lockTimeoutMs =
    opt('lockTimeout') === undefined
      ? DEFAULT_LOCK_TIMEOUT_MS
      : milliseconds(opt('lockTimeout'), label('lockTimeout'));

  let lockBlockingTimeoutMs: number | null = null;
  const blocking = opt('lockBlockingTimeout');
  if (blocking !== undefined) {
    if (typeof blocking !== 'number' && typeof blocking !== 'string') {
      throw new ValidationError(
        `${label('lockBlockingTimeout')} must be seconds, a duration string, or -1 for no limit; got ${typeof blocking}.`,
      );
    }
    const seconds = toSeconds(blocking, label('lockBlockingTimeout'));
    lockBlockingTimeoutMs = seconds === -1 ? null : Math.ceil(seconds * 1000);
  }

  const minGiven = opt('lockPollMin');
  const maxGiven = opt('lockPollMax');
  const defaultMax = defaults.announcesReleases
    ? DEFAULT_POLL_MAX_ANNOUNCED_MS
    : DEFAULT_POLL_MAX_POLLED_MS;
  let lockPollMinMs =
    minGiven === undefined
      ? DEFAULT_LOCK_POLL_MIN_MS
      : milliseconds(minGiven, label('lockPollMin'));
  let lockPollMaxMs =
    maxGiven === undefined ? defaultMax : milliseconds(maxGiven, label('lockPollMax'));
  // One bound given alone moves the other with it, rather than contradicting a default.
  if (minGiven === undefined) lockPollMinMs = Math.min(lockPollMinMs, lockPollMaxMs);
  if (maxGiven === undefined) lockPollMaxMs = Math.max(lockPollMaxMs, lockPollMinMs);
  if (lockPollMaxMs < lockPollMinMs) {
    throw new ValidationError(
      `${label('lockPollMax')} (${lockPollMaxMs} ms) must not be less than ${given.lockPollMin?.as ?? 'lockPollMin'} (${lockPollMinMs} ms).`,
    );
  }

  return {
    distributedLock: flag(
      opt('distributedLock'),
      label('distributedLock'),
      defaults.distributedLock,
    ),
    lease: Object.freeze({
      lockTimeoutMs,
      lockAutoExtend: flag(opt('lockAutoExtend'), label('lockAutoExtend'), true),
      lockBlockingTimeoutMs,
      lockPollMinMs,
      lockPollMaxMs,
      lockPrefix,
    }),
  };
}
