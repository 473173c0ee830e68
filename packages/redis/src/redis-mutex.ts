import { randomBytes } from 'node:crypto';
import { type AcquireOptions, type CacheMutex, DogpileError, reportError } from '@dogpile/core';
import type { Cluster, Redis } from 'ioredis';
import { RedisBackendError } from './errors.js';
import type { LockNotifier } from './lock-notifier.js';
import { EXTEND, RELEASE, runScript } from './lock-scripts.js';

/** What a {@link RedisMutex} needs from its backend. */
export interface LockContext {
  /** Runs `fn` on a ready client; errors come out as {@link RedisBackendError}s. */
  command<T>(operation: string, fn: (client: Redis | Cluster) => Promise<T>): Promise<T>;
  /** Whether the backend was closed. */
  readonly closed: boolean;
  /** ioredis's `keyPrefix`, which Redis sees in front of every key (and so in release messages). */
  readonly keyPrefix: string;
  /** Wakes waiters on release; `undefined` when `lockNotify` is off. */
  readonly notifier: LockNotifier | undefined;
  /** The channel releases publish on, or `''` for none. */
  readonly channel: string;
  readonly lockTimeoutMs: number;
  readonly lockBlockingTimeoutMs: number | undefined;
  readonly lockAutoExtend: boolean;
  readonly lockPollMinMs: number;
  readonly lockPollMaxMs: number;
  /** Tracks held mutexes, so `close()` can stop their extension timers. */
  held(mutex: RedisMutex, isHeld: boolean): void;
  /** Describes the server for messages. */
  readonly where: string;
}

// Tokens only need to be unique among holders: a random per-process prefix and a counter are,
// and cost nothing per acquire.
const TOKEN_PREFIX = randomBytes(12).toString('base64url');
let tokenCounter = 0;

function nextToken(): string {
  tokenCounter = (tokenCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${TOKEN_PREFIX}:${tokenCounter.toString(36)}`;
}

/**
 * A distributed lock on one Redis key, given by {@link RedisBackend.getMutex} when
 * `distributedLock` is on.
 *
 * - Acquire: `SET <lockPrefix><key> <token> NX PX <lockTimeout>`, with a token unique to this
 *   acquisition.
 * - Release and extend compare the token in a Lua script, so a holder whose lock expired can never
 *   delete or extend the lock of the holder that took it over.
 * - While held, the TTL is extended every `lockTimeout / 3`, so a slow creator keeps its lock and
 *   a crashed one loses it within `lockTimeout`.
 * - A blocking acquire retries when the holder's release is published (within milliseconds) and
 *   otherwise polls with exponential backoff and equal jitter, from `lockPollMin` to `lockPollMax`,
 *   which also notices holders that do not publish (Python dogpile.cache) and expired locks.
 *
 * One instance holds the lock at most once at a time; it is not reentrant.
 */
export class RedisMutex implements CacheMutex {
  /** The lock's key as given to ioredis: `<lockPrefix><key>`. */
  readonly lockKey: string;
  readonly #ctx: LockContext;
  #token: string | undefined;
  #extendTimer: NodeJS.Timeout | undefined;
  #extending = false;
  #lostReported = false;

  /** Made by {@link RedisBackend.getMutex}; not meant to be constructed directly. */
  constructor(ctx: LockContext, lockKey: string) {
    this.#ctx = ctx;
    this.lockKey = lockKey;
  }

  /** Whether this instance holds the lock, as far as it knows (it may have expired since). */
  get isHeld(): boolean {
    return this.#token !== undefined;
  }

  /**
   * Takes the lock. With `wait` (the default) retries until it is held, `lockBlockingTimeout`
   * passes (resolves `false`), or `signal` aborts (rejects with its reason); without `wait`,
   * tries once.
   */
  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (this.#token !== undefined) {
      if (!wait) return false;
      throw new DogpileError(
        'ERR_LOCK_STATE',
        `This RedisMutex already holds ${this.lockKey}; waiting for it would wait for itself. Release it first, or use another mutex from getMutex().`,
      );
    }
    if (await this.#trySet(signal)) return true;
    if (!wait) return false;
    return this.#wait(signal, () => this.#trySet(signal), false);
  }

  /**
   * Waits until the lock is free, without taking it: resolves `true` as soon as the holder's
   * release is published (or a poll finds the key gone), `false` after `lockBlockingTimeout`, and
   * rejects with the signal's reason if it aborts. Meant for a caller that only needs the holder's
   * result: every waiter of every process wakes at once and re-reads the value, instead of taking
   * the lock one after another just to find the value there.
   */
  async waitForRelease(options?: AcquireOptions): Promise<boolean> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    if (this.#token !== undefined) {
      throw new DogpileError(
        'ERR_LOCK_STATE',
        `This RedisMutex holds ${this.lockKey}; waiting for its release would wait for itself.`,
      );
    }
    return this.#wait(signal, async () => !(await this.locked()), true);
  }

  async #trySet(signal: AbortSignal | undefined): Promise<boolean> {
    const token = nextToken();
    const ttl = this.#ctx.lockTimeoutMs;
    const reply = await this.#ctx.command('lock SET NX', (client) =>
      client.set(this.lockKey, token, 'PX', ttl, 'NX'),
    );
    if (reply !== 'OK') return false;
    this.#token = token;
    this.#lostReported = false;
    this.#ctx.held(this, true);
    if (signal?.aborted) {
      // Aborted while the SET was in flight: the caller will not release what it was refused.
      await this.release();
      signal.throwIfAborted();
    }
    if (this.#ctx.lockAutoExtend) this.#startExtending();
    return true;
  }

  /**
   * Retries `attempt` until it succeeds (true), `lockBlockingTimeout` passes (false) or `signal`
   * aborts: at once after each release notification, else after an equal-jitter backoff. With
   * `notifiedIsSuccess`, a release notification itself counts as success.
   */
  async #wait(
    signal: AbortSignal | undefined,
    attempt: () => Promise<boolean>,
    notifiedIsSuccess: boolean,
  ): Promise<boolean> {
    const ctx = this.#ctx;
    const deadline =
      ctx.lockBlockingTimeoutMs === undefined
        ? Number.POSITIVE_INFINITY
        : Date.now() + ctx.lockBlockingTimeoutMs;
    let notified = false;
    let wake: (() => void) | undefined;
    const unregister = ctx.notifier?.register(ctx.keyPrefix + this.lockKey, () => {
      notified = true;
      wake?.();
    });
    try {
      // Subscribed before the next attempt: a release after that attempt fails is then heard.
      if (ctx.notifier) await ctx.notifier.ready();
      let round = 0;
      for (;;) {
        if (ctx.closed) throw closedError();
        // An abort may have come while a command was in flight, when no listener was attached.
        signal?.throwIfAborted();
        notified = false;
        if (await attempt()) return true;
        if (notified && notifiedIsSuccess) return true;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return false;
        if (notified) {
          // Released while our attempt was in flight; someone else won, but retry promptly.
          round = 0;
          continue;
        }
        // While releases are heard, polling only catches what they miss (a holder that does not
        // publish, as Python's; an expired lock; a reconnect): at lockPollMax, it stays out of the
        // way of the processes a release wakes. Without them, it backs off from lockPollMin.
        const cap = ctx.notifier?.subscribed
          ? ctx.lockPollMaxMs
          : Math.min(ctx.lockPollMaxMs, ctx.lockPollMinMs * 2 ** Math.min(round, 30));
        round++;
        const delay = Math.min(remaining, cap / 2 + Math.random() * (cap / 2));
        await new Promise<void>((resolve, reject) => {
          const done = () => {
            clearTimeout(timer);
            wake = undefined;
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
          const onAbort = () => {
            clearTimeout(timer);
            wake = undefined;
            reject(signal!.reason);
          };
          const timer = setTimeout(done, delay);
          wake = done;
          if (signal?.aborted) onAbort();
          else signal?.addEventListener('abort', onAbort, { once: true });
        });
        if (notified) {
          if (notifiedIsSuccess) return true;
          round = 0;
        }
      }
    } finally {
      unregister?.();
    }
  }

  #startExtending(): void {
    const interval = Math.max(1, Math.floor(this.#ctx.lockTimeoutMs / 3));
    const token = this.#token;
    this.#extendTimer = setInterval(() => {
      if (this.#extending || this.#token !== token) return;
      this.#extending = true;
      this.#extend(token!).finally(() => {
        this.#extending = false;
      });
    }, interval);
    // Extension serves a creator that is running; it must not keep a process alive by itself.
    this.#extendTimer.unref();
  }

  async #extend(token: string): Promise<void> {
    let extended: unknown;
    try {
      extended = await this.#ctx.command('lock extend', (client) =>
        runScript(client, EXTEND, this.lockKey, [token, this.#ctx.lockTimeoutMs]),
      );
    } catch (error) {
      // A transient failure: the TTL still has two thirds left, so the next tick may succeed.
      if (this.#token === token) reportError({ operation: 'lockExtend', key: this.lockKey, error });
      return;
    }
    if (extended === 1 || this.#token !== token) return;
    this.stopExtending();
    this.#reportLost('extend');
  }

  #reportLost(when: 'extend' | 'release'): void {
    if (this.#lostReported) return;
    this.#lostReported = true;
    reportError({
      operation: when === 'extend' ? 'lockExtend' : 'lockRelease',
      key: this.lockKey,
      error: new RedisBackendError(
        'ERR_REDIS_LOCK_LOST',
        `The lock ${this.lockKey} expired or was taken by another holder before this holder ${when === 'extend' ? 'could extend' : 'released'} it, ` +
          'so another process may have run the creator too. Raise lockTimeout, or keep lockAutoExtend on and the event loop responsive.',
      ),
    });
  }

  /** Stops extending the lock's TTL (it then expires within `lockTimeout`). Called by `close()`. */
  stopExtending(): void {
    if (this.#extendTimer !== undefined) {
      clearInterval(this.#extendTimer);
      this.#extendTimer = undefined;
    }
  }

  /**
   * Releases the lock if this instance still owns it: the key is deleted only while it holds our
   * token, and waiters are notified. A lock that expired (and maybe went to another holder) is
   * left alone and reported as `ERR_REDIS_LOCK_LOST` through `reportError`. Never throws for a
   * Redis failure, which would hide the creator's outcome: that is reported too, and the lock
   * expires within `lockTimeout`.
   */
  async release(): Promise<void> {
    const token = this.#token;
    if (token === undefined) return;
    this.#token = undefined;
    this.stopExtending();
    this.#ctx.held(this, false);
    if (this.#ctx.closed) return;
    let released: unknown;
    try {
      released = await this.#ctx.command('lock release', (client) =>
        runScript(client, RELEASE, this.lockKey, [token, this.#ctx.channel]),
      );
    } catch (error) {
      reportError({ operation: 'lockRelease', key: this.lockKey, error });
      return;
    }
    if (released !== 1) this.#reportLost('release');
  }

  /** Whether anyone (here or elsewhere) holds the lock right now. */
  async locked(): Promise<boolean> {
    const exists = await this.#ctx.command('lock EXISTS', (client) => client.exists(this.lockKey));
    return exists > 0;
  }
}

function closedError(): RedisBackendError {
  return new RedisBackendError(
    'ERR_REDIS_CLOSED',
    'The RedisBackend was closed while waiting for a lock. Do not close a backend that is still in use.',
  );
}
