import type { KeyedLocks } from './keyed-locks.js';
import type { AcquireOptions, CacheMutex } from './mutex.js';

/**
 * A key's in-process lock first, then the backend's distributed mutex, if any, as one mutex.
 * Taking the local lock first means a process makes at most one remote lock attempt per key at a
 * time, however many of its callers are waiting. `getOrCreateMulti` locks each key with one.
 */
export class RegionMutex implements CacheMutex {
  constructor(
    private readonly locks: KeyedLocks,
    private readonly key: string,
    private readonly remote: CacheMutex | null,
  ) {}

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    if (wait) await this.locks.acquire(this.key, options?.signal);
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
