import type { Duration } from '../duration.js';
import { toSeconds } from '../duration.js';
import { CreatorTimeoutError, ValidationError } from '../errors.js';
import type { NoValue } from '../no-value.js';
import { parseTags } from './tag-index.js';

/**
 * What a creator receives after its `creatorArgs`: the creation's signal and key, the value it
 * replaces, and ways to decide from the value what to keep.
 *
 * @example
 * await region.getOrCreate('report', async (ctx) => {
 *   const report = await fetchReport({ signal: ctx.signal });
 *   if (report.partial) ctx.setExpirationTime('30s'); // retry sooner than the region's 10 min
 *   if (report.empty) ctx.skip();                      // return it, but do not cache it
 *   return report;
 * });
 */
export interface CreationContext<T = unknown> {
  /**
   * Aborts when the creation should stop: past `hardTimeout` (reason: `CreatorTimeoutError`) or,
   * for a creation callers are waiting for, when the region is closed (reason:
   * `RegionClosedError`; a background regeneration is let finish and store, as `close()` waits
   * for it). Pass it to `fetch`, database drivers and the like.
   */
  readonly signal: AbortSignal;
  /** The key being created, as the caller gave it (before the key mangler). */
  readonly key: string;
  /** The value being replaced (expired or soft-invalidated), or `NO_VALUE` when there is none. */
  readonly staleValue: T | NoValue;
  /**
   * Keeps this value fresh for `duration` (seconds or a duration string) instead of the call's
   * expiration time; at most that time, and only when the call has one. Stored in the value's
   * metadata (`et`), so every process sees the same expiry (Python dogpile.cache ignores it and
   * applies its own expiration time).
   */
  setExpirationTime(duration: Duration): void;
  /** Returns the value to the callers without caching it (as `shouldCacheFn` returning false). */
  skip(): void;
  /**
   * Tags the value, beside the call's `tags` option, for `invalidateTags` (at most 64 in all).
   *
   * @example
   * ctx.setTags([`user:${post.authorId}`]);
   */
  setTags(tags: readonly string[]): void;
}

/** Options of a creation, on the region (`makeRegion`) and per call (`getOrCreate`). */
export interface CreationOptions {
  /**
   * The longest a creator may run, in seconds or a duration string (`'5s'`): past it its
   * `signal` aborts, the callers get a `CreatorTimeoutError` (or the stale value, with
   * `staleIfError`) and the lock is released. `null` or `-1`: no limit. Default: `null`.
   *
   * @example
   * makeRegion({ hardTimeout: '5s' });
   */
  hardTimeout?: Duration | null;
  /**
   * When a stale value exists and its regeneration has run this long (seconds or a duration
   * string), the caller gets the stale value and the regeneration carries on in the background,
   * still holding the lock, so it stays one creation (across processes with a distributed
   * mutex); it stores its value when done. A regeneration that finishes sooner is returned as
   * usual. No effect when there is no value (callers must wait) or with `backgroundRefresh`
   * (nobody waits). `null` or `-1`: off. Default: `null`.
   *
   * @example
   * makeRegion({ softTimeout: '200ms', hardTimeout: '10s' });
   */
  softTimeout?: Duration | null;
  /**
   * When a creator throws, remember its error for this long (seconds or a duration string) and
   * give it to the callers of that key, as a `CachedCreatorError` with the original as `cause`,
   * instead of running the creator again: a failing dependency is not hammered by every caller.
   * Callers with a stale value get that value. Kept in this process only. `null` or `-1`: off.
   * Default: `null`.
   *
   * @example
   * makeRegion({ cacheErrorsFor: '10s' });
   */
  cacheErrorsFor?: Duration | null;
  /**
   * Abort a creation when nobody waits for it any more: once the caller running it and every
   * caller of this process waiting for it have aborted their `signal`, the creator's `signal`
   * aborts with a `CreationAbandonedError`, nothing is stored and the lock is released. A caller
   * without a signal never aborts, so a creation it waits for always finishes; so does one that
   * runs in the background. Callers in other processes are not counted. Default: `false` (a
   * creation finishes and stores its value for later callers, whoever gave up on it).
   *
   * @example
   * await region.getOrCreate(key, (ctx) => search(q, { signal: ctx.signal }), {
   *   signal: request.signal,
   *   abortWhenAbandoned: true,
   * });
   */
  abortWhenAbandoned?: boolean;
}

/** Milliseconds, or `null` for off (`undefined`, `null`, `-1`); more than 0. */
export function parseCreationTime(value: unknown, what: string): number | null {
  if (value === undefined || value === null) return null;
  const seconds = toSeconds(value, what);
  if (seconds === -1) return null;
  if (seconds === 0) {
    throw new ValidationError(
      `${what} must be more than 0 seconds, or null (or -1) for off; got 0.`,
    );
  }
  return seconds * 1000;
}

/** One run of a creator: its context, its timeout, and what the creator decided. */
export class Creation<T> implements CreationContext<T> {
  /** Made when someone asks for the signal or the creation is aborted: most creators never do. */
  #controller: AbortController | undefined;
  /** Rejects the running {@link run} when the creation is aborted. */
  #reject: ((reason: unknown) => void) | undefined;
  readonly #expiration: number | null;
  /** Seconds the value stays fresh, when the creator set it. */
  freshFor: number | undefined;
  skipped = false;
  /** The tags the creator set, beside the call's. */
  tags: readonly string[] = [];

  constructor(
    readonly key: string,
    readonly staleValue: T | NoValue,
    expiration: number | null,
  ) {
    this.#expiration = expiration;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  setExpirationTime(duration: Duration): void {
    const seconds = toSeconds(duration, 'setExpirationTime');
    if (this.#expiration === null) {
      throw new ValidationError(
        `setExpirationTime needs an expiration time on the region or the call to shorten; key "${this.key}" never expires here.`,
      );
    }
    if (seconds === -1 || seconds > this.#expiration) {
      throw new ValidationError(
        `setExpirationTime can only shorten the expiration time (${this.#expiration} s here); got ${String(duration)}.`,
      );
    }
    this.freshFor = seconds;
  }

  skip(): void {
    this.skipped = true;
  }

  setTags(tags: readonly string[]): void {
    this.tags = parseTags(tags, 'setTags');
  }

  /** Stops the creation: its signal aborts with `reason`, and {@link run} rejects with it. */
  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
    this.#reject?.(reason);
  }

  /**
   * Runs `create`, rejecting with the abort reason as soon as the creation is aborted (at
   * `hardTimeoutMs`, or by {@link abort}); a result that comes after that is dropped.
   */
  run(create: () => T | Promise<T>, hardTimeoutMs: number | null): T | Promise<T> {
    // Aborted before it began (abandoned, or the region closed): the creator is not called.
    const aborted = this.#controller?.signal;
    if (aborted?.aborted) return Promise.reject(aborted.reason);
    // A creator that answers synchronously cannot be aborted mid-way: no timer, no promise.
    const created = create();
    if (!isThenable(created)) return created;
    return new Promise<T>((resolve, reject) => {
      const timer =
        hardTimeoutMs === null
          ? undefined
          : setTimeout(
              () => this.abort(new CreatorTimeoutError(this.key, hardTimeoutMs)),
              hardTimeoutMs,
            );
      const settle = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#reject = undefined;
      };
      this.#reject = (reason) => {
        settle();
        reject(reason);
      };
      // A promise settles once: after an abort, the creator's late result is dropped here.
      created.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<T>).then === 'function'
  );
}
