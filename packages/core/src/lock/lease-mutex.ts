import { randomUUID } from 'node:crypto';
import { LockStateError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import type { LeaseStore, ReleaseWatch } from './lease-store.js';
import type { LeaseSettings } from './lock-options.js';
import type { AcquireOptions, CacheMutex, WaitForReleaseOptions } from './mutex.js';

/** What a {@link LeaseMutex} shares with the other mutexes of its backend; see {@link LeaseLocks}. */
export interface LeaseHost {
  readonly store: LeaseStore;
  readonly settings: LeaseSettings;
  readonly closed: boolean;
  /** Throws the backend's "closed" error once it is closed. */
  assertOpen(): void;
  /** Tracks held mutexes, so `close()` can give their leases back. */
  track(mutex: LeaseMutex, held: boolean): void;
  /** Keeps releasing `token` in the background until the store answers (or the lease expired). */
  settle(lockKey: string, token: string): void;
  /** Waits `ms`; wakes early on `wake()`, on close, and rejects when `signal` aborts. */
  sleep(
    ms: number,
    signal: AbortSignal | undefined,
    onWake: (wake: () => void) => void,
  ): Promise<void>;
  /** The error reported when a lease was lost. */
  lostError(message: string): Error;
}

interface WaitPlan {
  signal: AbortSignal | undefined;
  /** One check: `true` ends the wait successfully. */
  attempt: () => Promise<boolean>;
  /** A release notification itself ends the wait (waitForRelease), rather than prompting a retry. */
  releaseEndsWait: boolean;
  until: (() => boolean | Promise<boolean>) | undefined;
}

/**
 * The one distributed lock of dogpile, over a backend's {@link LeaseStore}. Get it from the
 * backend's `getMutex(key)` (which asks its {@link LeaseLocks}); the region takes it behind its
 * in-process lock for the key.
 *
 * - Each acquisition takes the lease with a fresh random token; release and extension act only
 *   while the store still holds that token, so a holder whose lease expired and was taken over
 *   never removes or extends the new holder's lock. Such a loss is reported (`ERR_LOCK_LOST`, or
 *   the backend's code) on the `dogpile:error` channel.
 * - While held, the lease is extended every `lockTimeout / 3` (`lockAutoExtend`), so a slow
 *   creator keeps it and a dead one loses it within `lockTimeout`.
 * - A take that failed without an answer (a timeout: the store may still have done it) is not
 *   forgotten: its token is released in the background as soon as the store answers, so no lock
 *   outlives its caller by more than the time it takes to reach the store again.
 * - Waiting (a blocking `acquire`, `waitForRelease`) retries at once when the store announces a
 *   release, and otherwise polls with equal-jitter backoff from `lockPollMin` to `lockPollMax`;
 *   `lockBlockingTimeout` bounds it, an `AbortSignal` stops it.
 *
 * Not reentrant: one instance holds the lock at most once at a time.
 */
export class LeaseMutex implements CacheMutex {
  /** The lock's key in the store: `<lockPrefix><key>`. */
  readonly lockKey: string;
  readonly #host: LeaseHost;
  #token: string | undefined;
  #extendTimer: NodeJS.Timeout | undefined;
  #extending = false;
  /** An extension failed and was reported; the next failure is not, until one succeeds. */
  #extendFailing = false;

  /** Made by {@link LeaseLocks.mutex}. */
  constructor(host: LeaseHost, lockKey: string) {
    this.#host = host;
    this.lockKey = lockKey;
  }

  /** Whether this instance holds the lock, as far as it knows (its lease may have run out since). */
  get held(): boolean {
    return this.#token !== undefined;
  }

  /**
   * Takes the lock. With `wait` (the default) retries until it is held (`true`),
   * `lockBlockingTimeout` passes (`false`), or `signal` aborts (rejects with its reason); without
   * `wait`, tries once.
   */
  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    this.#host.assertOpen();
    if (this.#token !== undefined) {
      if (!wait) return false;
      throw new LockStateError(
        `This mutex already holds ${this.lockKey}; waiting for it would wait for itself. Release it first, or take another mutex from getMutex().`,
      );
    }
    if (await this.#take(signal)) return true;
    if (!wait) return false;
    return this.#wait({
      signal,
      attempt: () => this.#take(signal),
      releaseEndsWait: false,
      until: undefined,
    });
  }

  /**
   * Waits until nobody holds the lock, without taking it: resolves `true` once it is free (or
   * `until` says the wait is over), `false` after `lockBlockingTimeout`, and rejects with the
   * signal's reason if it aborts. The region's waiters use it so that every process reads the
   * holder's value at its release, instead of taking the lock one process after another.
   */
  async waitForRelease(options?: WaitForReleaseOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    this.#host.assertOpen();
    if (this.#token !== undefined) {
      throw new LockStateError(
        `This mutex holds ${this.lockKey}; waiting for its release would wait for itself.`,
      );
    }
    const store = this.#host.store;
    return this.#wait({
      signal,
      attempt: async () => !(await store.isHeld(this.lockKey)),
      releaseEndsWait: true,
      until: options?.until,
    });
  }

  async #take(signal: AbortSignal | undefined): Promise<boolean> {
    const host = this.#host;
    const token = randomUUID();
    const ttl = host.settings.lockTimeoutMs;
    let taken: boolean;
    try {
      taken = await host.store.tryTake(this.lockKey, token, ttl);
    } catch (error) {
      // No answer is not "not taken": the store may have run the take after our side gave up.
      host.settle(this.lockKey, token);
      throw error;
    }
    if (!taken) return false;
    if (host.closed) {
      host.settle(this.lockKey, token);
      host.assertOpen();
    }
    this.#token = token;
    this.#extendFailing = false;
    host.track(this, true);
    if (signal?.aborted) {
      // Aborted while the take was in flight: the caller will not release what it was refused.
      await this.release();
      signal.throwIfAborted();
    }
    if (host.settings.lockAutoExtend) this.#startExtending(token);
    return true;
  }

  async #wait(plan: WaitPlan): Promise<boolean> {
    const host = this.#host;
    const { signal } = plan;
    const { lockBlockingTimeoutMs, lockPollMinMs, lockPollMaxMs } = host.settings;
    const deadline =
      lockBlockingTimeoutMs === null
        ? Number.POSITIVE_INFINITY
        : Date.now() + lockBlockingTimeoutMs;
    let notified = false;
    let wake: (() => void) | undefined;
    let watch: ReleaseWatch | undefined;
    if (host.store.watchReleases) {
      // Subscribed before the next check: a release after that check is then heard.
      watch = await host.store.watchReleases(this.lockKey, () => {
        notified = true;
        wake?.();
      });
    }
    try {
      let round = 0;
      for (;;) {
        host.assertOpen();
        // An abort may have come while a check was in flight, when nothing listened for it.
        signal?.throwIfAborted();
        notified = false;
        if (await plan.attempt()) return true;
        if (notified && plan.releaseEndsWait) return true;
        if (plan.until !== undefined && (await plan.until())) return true;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return false;
        if (notified) {
          // Released while our check was in flight: someone else won, but look again at once.
          round = 0;
          continue;
        }
        // While releases are heard, polling only catches what they miss (a holder that does not
        // announce, as Python's; an expired lease): at lockPollMax, out of the way of the
        // processes a release wakes. Otherwise it backs off from lockPollMin.
        const cap = watch?.listening
          ? lockPollMaxMs
          : Math.min(lockPollMaxMs, lockPollMinMs * 2 ** Math.min(round, 30));
        round++;
        const delay = Math.min(remaining, cap / 2 + Math.random() * (cap / 2));
        await host.sleep(delay, signal, (w) => {
          wake = w;
        });
        wake = undefined;
        if (notified) {
          if (plan.releaseEndsWait) {
            host.assertOpen();
            return true;
          }
          round = 0;
        }
      }
    } finally {
      watch?.stop();
    }
  }

  #startExtending(token: string): void {
    const interval = Math.max(1, Math.floor(this.#host.settings.lockTimeoutMs / 3));
    this.#extendTimer = setInterval(() => {
      if (this.#extending || this.#token !== token) return;
      this.#extending = true;
      void this.#autoExtend(token).finally(() => {
        this.#extending = false;
      });
    }, interval);
    // Extension serves a creator that is running; it must not keep a process alive by itself.
    this.#extendTimer.unref();
  }

  async #autoExtend(token: string): Promise<void> {
    const host = this.#host;
    let extended: boolean;
    try {
      extended = await host.store.extend(this.lockKey, token, host.settings.lockTimeoutMs);
    } catch (error) {
      // Two thirds of the lease are left: the next tick may still make it. Reported once until
      // an extension succeeds again.
      if (this.#token === token && !this.#extendFailing) {
        this.#extendFailing = true;
        reportError({ operation: 'lockExtend', key: this.lockKey, error });
      }
      return;
    }
    this.#extendFailing = false;
    if (extended || this.#token !== token) return;
    this.#drop();
    this.#reportLost('extend');
  }

  /**
   * Pushes the lease's expiry to `lockTimeout` from now. Resolves `false` (and forgets the lock)
   * when it is no longer this instance's: it expired and maybe went to another holder. Store
   * errors reject.
   */
  async extend(): Promise<boolean> {
    const token = this.#token;
    if (token === undefined) return false;
    const host = this.#host;
    if (await host.store.extend(this.lockKey, token, host.settings.lockTimeoutMs)) return true;
    if (this.#token === token) this.#drop();
    return false;
  }

  /**
   * Releases the lock if this instance still owns it: the store removes the lease only while it
   * holds our token. A lease that expired (and maybe went to another holder) is left alone and
   * reported as lost. Never rejects for a store failure, which would hide the creator's outcome:
   * that is reported too, and the token is released in the background once the store answers.
   */
  async release(): Promise<void> {
    const token = this.#token;
    if (token === undefined) return;
    this.#drop();
    const host = this.#host;
    if (host.closed) return;
    let released: boolean;
    try {
      released = await host.store.release(this.lockKey, token);
    } catch (error) {
      reportError({ operation: 'lockRelease', key: this.lockKey, error });
      host.settle(this.lockKey, token);
      return;
    }
    if (!released) this.#reportLost('release');
  }

  /** Whether anyone (here or in another process) holds the lock right now. */
  async locked(): Promise<boolean> {
    this.#host.assertOpen();
    return this.#host.store.isHeld(this.lockKey);
  }

  /**
   * Forgets the lock without touching the store, stopping its extension; returns the token it
   * held, if any. For the backend's `close()`, through {@link LeaseLocks}.
   */
  forget(): string | undefined {
    const token = this.#token;
    this.#drop();
    return token;
  }

  #drop(): void {
    if (this.#extendTimer !== undefined) {
      clearInterval(this.#extendTimer);
      this.#extendTimer = undefined;
    }
    if (this.#token !== undefined) {
      this.#token = undefined;
      this.#host.track(this, false);
    }
  }

  #reportLost(when: 'extend' | 'release'): void {
    reportError({
      operation: when === 'extend' ? 'lockExtend' : 'lockRelease',
      key: this.lockKey,
      error: this.#host.lostError(
        `The lock ${this.lockKey} expired or was taken by another holder before this holder ${when === 'extend' ? 'could extend' : 'released'} it, ` +
          'so another process may have run the creator too. Raise lockTimeout, or keep lockAutoExtend on and the event loop responsive.',
      ),
    });
  }
}
