import { type CachedValue, VALUE_VERSION } from '../backend/cached-value.js';
import { type Duration, toSeconds } from '../duration.js';
import { ValidationError } from '../errors.js';
import type { RegionInvalidationStrategy } from '../invalidation/invalidation.js';
import type { AcquireOptions, CacheMutex, WaitForReleaseOptions } from '../lock/mutex.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { lifeOf } from './freshness.js';

/**
 * Serving despite failures. Region options (`makeRegion`), each overridable per `getOrCreate` /
 * `getOrCreateMulti` call. Every failure these absorb is reported on the `dogpile:error`
 * diagnostics channel (or as a process warning when nobody listens), never dropped.
 *
 * @example
 * const region = makeRegion({ failSafe: true, staleIfError: '1h' });
 * // The backend down: reads are misses and the creator runs; a failed write is reported.
 * // The database down: for up to an hour past its expiry the last value is served instead.
 */
export interface FailSafeOptions {
  /**
   * Keep answering while the backend fails. In `getOrCreate` and `getOrCreateMulti` only: a read
   * that throws counts as a miss, so the creator runs; a write that throws is reported and the
   * created value is still returned; a distributed mutex that cannot be reached is treated as
   * taken (callers of this process still create one at a time, behind the in-process lock).
   * Waiters that cannot read the value the holder created get it from the holder directly.
   * `get`, `set`, `delete` and the others still throw: a caller who asks for just that
   * operation must know it did not happen. Default: `false`.
   */
  failSafe?: boolean;
  /**
   * When the creator throws and the value it was replacing expired at most this long ago
   * (seconds or a duration string), that value is returned instead of the error, and the error is
   * reported. A value that never expires, or is only soft-invalidated, qualifies whatever its
   * age; a hard-invalidated one never does. The value stays stale, so the next call tries the
   * creator again. Default: `null` (or `-1`), off: the creator's error is thrown.
   */
  staleIfError?: Duration | null;
}

export function parseFailSafe(value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  throw new ValidationError(`failSafe must be true or false; got ${typeof value}.`);
}

/** Seconds, or `null` for off (`null`, `undefined` or `-1`). */
export function parseStaleIfError(value: Duration | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  const seconds = toSeconds(value, 'staleIfError');
  return seconds === -1 ? null : seconds;
}

/** Whether `error` is the rejection of a wait stopped by `options.signal`, which must pass through. */
function isAbort(error: unknown, options: AcquireOptions | undefined): boolean {
  return options?.signal?.aborted === true && error === options.signal.reason;
}

/**
 * A backend's distributed mutex as a fail-safe call uses it: when the backend cannot be reached
 * to take, wait for or release the lock, `onFailure` is told (the region reports it once per
 * outage) and the caller goes on as if it had the lock (or as if the holder had released it). The
 * region's in-process lock is still taken in front of it, so callers of this process still create
 * one at a time; callers of other processes may create too while the backend is failing, which is
 * the price of answering at all.
 */
export class FailSafeMutex implements CacheMutex {
  /** Whether the lock was granted only because the backend failed: then nothing to release. */
  #assumed = false;
  /** Only present when the inner mutex has it, so the caller's choice of waiting is unchanged. */
  declare waitForRelease?: (options?: WaitForReleaseOptions) => Promise<boolean>;

  constructor(
    readonly inner: CacheMutex,
    private readonly onFailure: (operation: string, error: unknown) => void,
  ) {
    if (typeof inner.waitForRelease === 'function') {
      this.waitForRelease = async (options?: WaitForReleaseOptions) => {
        try {
          return await inner.waitForRelease!(options);
        } catch (error) {
          if (isAbort(error, options)) throw error;
          this.onFailure('lockWait', error);
          // Go and read: with the backend failing the read is a miss and the caller creates.
          return true;
        }
      };
    }
  }

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    try {
      return await this.inner.acquire(wait, options);
    } catch (error) {
      if (isAbort(error, options)) throw error;
      this.onFailure('lockAcquire', error);
      this.#assumed = true;
      return true;
    }
  }

  async release(): Promise<void> {
    if (this.#assumed) {
      this.#assumed = false;
      return;
    }
    try {
      await this.inner.release();
    } catch (error) {
      // The lock expires on its own (its TTL); the creator's value is what the caller waits for.
      this.onFailure('lockRelease', error);
    }
  }

  async locked(): Promise<boolean> {
    try {
      return await this.inner.locked();
    } catch (error) {
      this.onFailure('lockLocked', error);
      return false;
    }
  }
}

/**
 * Whether `value` may be served because the creator failed, under `staleIfError`: a value of this
 * format that is not hard-invalidated and expired at most `staleIfError` seconds ago. A value that
 * never expires, or is only soft-invalidated, always qualifies: soft invalidation asks for the old
 * value to be served while a new one is made.
 */
export function servableOnError(
  value: CachedValue | NoValue,
  now: number,
  expiration: number | null,
  staleIfError: number,
  invalidator: RegionInvalidationStrategy,
): value is CachedValue {
  if (value === NO_VALUE) return false;
  const ct = (value as CachedValue).metadata.ct;
  if ((value as CachedValue).metadata.v !== VALUE_VERSION || invalidator.isHardInvalidated(ct))
    return false;
  return (
    expiration === null ||
    now - ct <= lifeOf((value as CachedValue).metadata, expiration) + staleIfError
  );
}
