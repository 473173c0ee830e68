import type { CacheMutex } from '../lock/mutex.js';

/**
 * The region's built-in async creation runner (`backgroundRefresh`): runs each regeneration
 * detached from the caller, who was already served the stale value, while holding the creation
 * mutex, and keeps track of what is running so that `close()` can wait for it.
 */
export class BackgroundRefresher {
  readonly #running = new Set<Promise<void>>();

  /** The number of regenerations running (or about to start) right now. */
  get size(): number {
    return this.#running.size;
  }

  /**
   * Runs `regenerate` in the background and releases `mutex` when it settles. Starts on a later
   * turn of the event loop, so the caller gets its stale value before any of the creator's
   * synchronous work runs. A failure of `regenerate` or of the release goes to `onError`, never to
   * the caller (who has long returned) and never nowhere.
   */
  start(
    regenerate: () => Promise<unknown>,
    mutex: CacheMutex,
    onError: (error: unknown, operation: string) => void,
  ): void {
    const job = (async () => {
      try {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await regenerate();
      } catch (error) {
        onError(error, 'backgroundRefresh');
      } finally {
        try {
          await mutex.release();
        } catch (error) {
          onError(error, 'backgroundRefresh.release');
        }
      }
    })();
    this.#running.add(job);
    // `job` never rejects: every error went to onError above.
    void job.then(() => this.#running.delete(job));
  }

  /** Resolves once nothing is running, including regenerations started while it waits. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}
