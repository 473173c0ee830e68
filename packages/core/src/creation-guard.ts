import type { CachedValue } from './cached-value.js';
import { LockTimeoutError } from './errors.js';
import { type FailSafeOptions, parseFailSafe, parseStaleIfError } from './fail-safe.js';
import {
  type CallWaitOptions,
  checkSignal,
  LockWait,
  type LockWaitOptions,
  type OnLockTimeout,
  parseLockWaitTimeout,
  parseOnLockTimeout,
} from './lock-wait.js';
import { NO_VALUE, type NoValue } from './no-value.js';

/** The settings one `getOrCreate` call runs with, the region's merged with the call's. */
export interface GuardSettings {
  /** Seconds, or `null` to wait as long as it takes. */
  lockWaitTimeout: number | null;
  onLockTimeout: OnLockTimeout;
  signal: AbortSignal | undefined;
  failSafe: boolean;
  /** Seconds, or `null` for off. */
  staleIfError: number | null;
}

/** The region's own settings, parsed once at construction; `null` when none is on. */
export function regionGuardSettings(
  options: LockWaitOptions & FailSafeOptions,
): Omit<GuardSettings, 'signal'> | null {
  const settings = {
    lockWaitTimeout: parseLockWaitTimeout(options.lockWaitTimeout),
    onLockTimeout:
      options.onLockTimeout === undefined ? 'throw' : parseOnLockTimeout(options.onLockTimeout),
    failSafe: parseFailSafe(options.failSafe),
    staleIfError: parseStaleIfError(options.staleIfError),
  } as const;
  return isOn({ ...settings, signal: undefined }) ? settings : null;
}

/**
 * The settings of one call that has to wait or create: the region's, overridden by the call's.
 * `undefined` when none is on, so the call runs exactly as it would without them. Options are
 * validated here, on the slow path, so a hit costs nothing more.
 */
export function callGuardSettings(
  region: Omit<GuardSettings, 'signal'> | null,
  options: (CallWaitOptions & FailSafeOptions) | undefined,
): GuardSettings | undefined {
  if (
    options === undefined ||
    (options.lockWaitTimeout === undefined &&
      options.onLockTimeout === undefined &&
      options.signal === undefined &&
      options.failSafe === undefined &&
      options.staleIfError === undefined)
  ) {
    return region === null ? undefined : { ...region, signal: undefined };
  }
  const settings: GuardSettings = {
    lockWaitTimeout:
      options.lockWaitTimeout === undefined
        ? (region?.lockWaitTimeout ?? null)
        : parseLockWaitTimeout(options.lockWaitTimeout),
    onLockTimeout:
      options.onLockTimeout === undefined
        ? (region?.onLockTimeout ?? 'throw')
        : parseOnLockTimeout(options.onLockTimeout),
    signal: checkSignal(options.signal),
    failSafe:
      options.failSafe === undefined
        ? (region?.failSafe ?? false)
        : parseFailSafe(options.failSafe),
    staleIfError:
      options.staleIfError === undefined
        ? (region?.staleIfError ?? null)
        : parseStaleIfError(options.staleIfError),
  };
  return isOn(settings) ? settings : undefined;
}

function isOn(settings: GuardSettings): boolean {
  return (
    settings.lockWaitTimeout !== null ||
    settings.onLockTimeout !== 'throw' ||
    settings.signal !== undefined ||
    settings.failSafe ||
    settings.staleIfError !== null
  );
}

/**
 * The state of one `getOrCreate` call that has to wait or create while lock wait timeouts, an
 * abort signal, fail-safe or stale-if-error apply. The region makes one only then, so a call
 * without them runs exactly as before.
 */
export class CreationGuard {
  readonly onLockTimeout: OnLockTimeout;
  readonly failSafe: boolean;
  readonly staleIfError: number | null;
  /** Present only when the call could wait (no value to serve) and has a timeout or a signal. */
  readonly #wait: LockWait | undefined;
  /** The newest value this call read; what `staleIfError` may serve. */
  lastSeen: CachedValue | NoValue;
  /** Set once the wait was given up and the creator runs without the lock. */
  bypass = false;
  #creatorError: unknown;
  #creatorFailed = false;

  constructor(
    key: string,
    first: CachedValue | NoValue,
    mayWait: boolean,
    settings: GuardSettings,
  ) {
    this.onLockTimeout = settings.onLockTimeout;
    this.failSafe = settings.failSafe;
    this.staleIfError = settings.staleIfError;
    this.lastSeen = first;
    this.#wait =
      mayWait && (settings.lockWaitTimeout !== null || settings.signal !== undefined)
        ? new LockWait(key, settings.lockWaitTimeout, settings.signal)
        : undefined;
  }

  /** Pass to every wait: aborts on the caller's signal or at the lock wait timeout. */
  get signal(): AbortSignal | undefined {
    return this.bypass ? undefined : this.#wait?.signal;
  }

  /**
   * Whether `error` means the caller gave up waiting for the lock: this call's own timeout, or a
   * {@link LockTimeoutError} of a distributed mutex's blocking timeout. A `LockTimeoutError` the
   * creator threw (from a nested region call) does not count: the creator ran.
   */
  isLockTimeout(error: unknown): boolean {
    if (this.#wait?.isTimeout(error)) return true;
    return error instanceof LockTimeoutError && !this.isCreatorError(error);
  }

  /** Whether `error` is what this call's creator threw (rather than a backend or the lock). */
  isCreatorError(error: unknown): boolean {
    return this.#creatorFailed && error === this.#creatorError;
  }

  /** The creator, with what it throws recorded, so {@link isCreatorError} can tell. */
  watchCreator<A extends unknown[], R>(creator: (...args: A) => R | Promise<R>) {
    return async (...args: A): Promise<R> => {
      try {
        return await creator(...args);
      } catch (error) {
        this.#creatorFailed = true;
        this.#creatorError = error;
        throw error;
      }
    };
  }

  /** Records a value read, for stale-if-error. */
  saw(value: CachedValue | NoValue): void {
    if (value !== NO_VALUE) this.lastSeen = value;
  }

  dispose(): void {
    this.#wait?.dispose();
  }
}
