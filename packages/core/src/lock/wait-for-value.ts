import type { AcquireOptions, CacheMutex } from './mutex.js';

/**
 * The backend's mutex as a caller with no value takes it: while another process holds it, the
 * caller waits for that release (or for the value: `until` re-reads at each poll) rather than
 * queueing for the lock, and resolves `false`, so dogpile's `Lock` reads again, as it does after
 * a blocking acquire that gave up.
 */
export class WaitForValue implements CacheMutex {
  /** The last blocking acquire ended at a release (or a found value), not at a timeout. */
  released = false;

  constructor(
    readonly inner: CacheMutex,
    readonly until: () => Promise<boolean>,
  ) {}

  async acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    const waitForRelease = this.inner.waitForRelease;
    if (!wait || waitForRelease === undefined) return this.inner.acquire(wait, options);
    if (await this.inner.acquire(false)) return true;
    this.released = await waitForRelease.call(this.inner, { ...options, until: this.until });
    return false;
  }

  release(): Promise<void> {
    return this.inner.release();
  }

  locked(): Promise<boolean> {
    return this.inner.locked();
  }
}
