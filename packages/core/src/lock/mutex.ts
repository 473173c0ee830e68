/** Options for {@link CacheMutex.acquire}. */
export interface AcquireOptions {
  /** Stop waiting when this signal aborts: `acquire` then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options for {@link CacheMutex.waitForRelease}. */
export interface WaitForReleaseOptions extends AcquireOptions {
  /**
   * Checked between polls (at least every `lockPollMax` on the backends of this project): when it
   * resolves `true` the wait ends, resolving `true`, although the lock is still held. The region
   * passes a re-read of the key, so a waiter whose holder died after storing the value gets that
   * value at once instead of waiting out the dead holder's lease. A mutex may ignore it.
   */
  until?: () => boolean | Promise<boolean>;
}

/**
 * A lock guarding the creation of one key's value, the port of dogpile's `CacheMutex`.
 * A backend returns one from `getMutex(key)` when it can lock across processes; the region always
 * takes it behind its own in-process lock for the same key.
 */
export interface CacheMutex {
  /**
   * Takes the lock. With `wait` (the default) resolves `true` once held; without it resolves at
   * once, `false` when someone else holds it. A distributed mutex may also resolve `false` after
   * its own blocking timeout.
   */
  acquire(wait?: boolean, options?: AcquireOptions): Promise<boolean>;
  /** Releases a lock this holder took. Must never release a lock another holder now owns. */
  release(): Promise<void>;
  /** Whether anyone holds the lock right now. */
  locked(): Promise<boolean>;
  /**
   * Optional: waits until the lock is free without taking it. Resolves `true` once the holder
   * released it (or it expired), `false` when the mutex's own blocking timeout passed, and rejects
   * with the signal's reason if it aborts. A distributed mutex that offers it lets the waiters of
   * every process wake together on the holder's release and read its value, instead of taking the
   * lock one process after another only to find the value there.
   */
  waitForRelease?(options?: WaitForReleaseOptions): Promise<boolean>;
}

/**
 * A mutex that is always free: the backend has none, or this call no longer uses it. `Lock`
 * neither takes nor releases it, so a miss on it reaches the creator without a turn of the event
 * loop.
 */
export const FREE: CacheMutex = {
  acquire: async () => true,
  release: async () => {},
  locked: async () => false,
};

/**
 * A mutex that never excludes anyone, for backends that store nothing (dogpile's `NullLock`). The
 * region also skips its in-process lock for it, so every caller runs its own creator.
 */
export class NullMutex implements CacheMutex {
  async acquire(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
  async locked(): Promise<boolean> {
    return false;
  }
}
