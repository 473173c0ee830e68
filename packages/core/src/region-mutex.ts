import type { KeyedLocks } from './keyed-locks.js';
import type { AcquireOptions, CacheMutex } from './mutex.js';

/**
 * The mutex the region hands to the {@link Lock}: the in-process lock for the key first, then the
 * backend's distributed mutex, if any. Taking the local lock first means a process makes at most
 * one remote lock attempt per key at a time, however many of its callers are waiting.
 */
export class RegionMutex implements CacheMutex {
  #preheld: boolean;
  #remotePreheld = false;

  /**
   * @param preheld the caller already took the local lock (with `tryAcquire`); the next
   *   `acquire` takes only the remote part. Call {@link abandon} if it never comes.
   */
  constructor(
    private readonly locks: KeyedLocks,
    private readonly key: string,
    private readonly remote: CacheMutex | null,
    preheld = false,
  ) {
    this.#preheld = preheld;
  }

  /**
   * Records that the caller, holding the pre-held local lock, also took the remote mutex (with
   * `acquire(false)`); the next `acquire` then takes nothing at all.
   */
  remoteTaken(): void {
    this.#remotePreheld = true;
  }

  /** Gives back pre-held locks that no `acquire` took over. */
  async abandon(): Promise<void> {
    if (!this.#preheld) return;
    this.#preheld = false;
    if (this.#remotePreheld) {
      this.#remotePreheld = false;
      await this.release();
    } else this.locks.release(this.key);
  }

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    if (this.#preheld) {
      this.#preheld = false;
      if (this.#remotePreheld) {
        this.#remotePreheld = false;
        return true;
      }
    } else if (wait) await this.locks.acquire(this.key, options?.signal);
    else if (!this.locks.tryAcquire(this.key)) return false;
    if (this.remote === null) return true;
    try {
      if (await this.remote.acquire(wait, options)) return true;
    } catch (error) {
      this.locks.release(this.key);
      throw error;
    }
    this.locks.release(this.key);
    return false;
  }

  async release(): Promise<void> {
    try {
      if (this.remote !== null) await this.remote.release();
    } finally {
      this.locks.release(this.key);
    }
  }

  async locked(): Promise<boolean> {
    if (this.locks.isLocked(this.key)) return true;
    return this.remote === null ? false : this.remote.locked();
  }
}
