/**
 * The storage side of a distributed lock: what a backend writes so that {@link LeaseMutex} can do
 * the rest (tokens, expiry, extension, backoff, timeouts, abort, release notification, close).
 * A lease is a record `lockKey → token` that the store forgets by itself `ttlMs` after it was
 * taken or last extended, so the lock of a holder that died frees itself.
 *
 * Every method may answer synchronously or with a promise. An error thrown by `tryTake` or
 * `isHeld` reaches the caller of `acquire`/`locked`/`waitForRelease`; one thrown by `release` or
 * `extend` is reported on the `dogpile:error` channel. After the backend is closed, the store
 * should throw the backend's own "closed" error: waiters woken by the close see it.
 *
 * @example
 * // Redis: take is SET NX PX; release and extend compare the token in a Lua script.
 * const store: LeaseStore = {
 *   tryTake: async (lockKey, token, ttlMs) => (await redis.set(lockKey, token, 'PX', ttlMs, 'NX')) === 'OK',
 *   release: async (lockKey, token) => (await redis.evalsha(RELEASE, 1, lockKey, token)) === 1,
 *   extend: async (lockKey, token, ttlMs) => (await redis.evalsha(EXTEND, 1, lockKey, token, ttlMs)) === 1,
 *   isHeld: async (lockKey) => (await redis.exists(lockKey)) > 0,
 * };
 */
export interface LeaseStore {
  /**
   * Atomically takes the lease on `lockKey` for `token`, expiring `ttlMs` milliseconds from now,
   * if nobody holds it (or its holder's lease ran out). Resolves whether it was taken.
   */
  tryTake(lockKey: string, token: string, ttlMs: number): boolean | Promise<boolean>;
  /**
   * Ends the lease only if `token` still holds it. Resolves `true` if it did, `false` if the
   * lease had expired or belongs to someone else now (which must then be left untouched).
   */
  release(lockKey: string, token: string): boolean | Promise<boolean>;
  /**
   * Makes the lease expire `ttlMs` milliseconds from now, only if `token` still holds it.
   * Resolves `true` if it did, `false` if the lease was lost.
   */
  extend(lockKey: string, token: string, ttlMs: number): boolean | Promise<boolean>;
  /** Whether anyone holds an unexpired lease on `lockKey`. */
  isHeld(lockKey: string): boolean | Promise<boolean>;
  /**
   * Optional, for stores that can push (Redis pub/sub, file-system watches): calls `onRelease`
   * whenever the lease on `lockKey` is released, until `stop()`. Resolve once releases are being
   * heard, so that a release after that is not missed. Without it, waiters only poll.
   */
  watchReleases?(lockKey: string, onRelease: () => void): ReleaseWatch | Promise<ReleaseWatch>;
}

/** A subscription made by {@link LeaseStore.watchReleases}. */
export interface ReleaseWatch {
  /**
   * Whether releases are being heard right now (the subscription is up). While it is, waiters
   * poll only every `lockPollMax`, as a safety net; while it is not, they back off from
   * `lockPollMin`.
   */
  readonly listening: boolean;
  /** Stops calling `onRelease`. */
  stop(): void;
}
