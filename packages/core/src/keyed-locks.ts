interface Waiter {
  grant: () => void;
  cancelled: boolean;
}

interface Entry {
  queue: Waiter[];
  /** Woken, all at once, at the next release. */
  watchers: Array<() => void> | undefined;
}

/**
 * The in-process lock for each key, created on first use and dropped as soon as nobody holds it
 * or waits for it, so millions of distinct keys leave nothing behind.
 *
 * A key is held exactly while it has an entry. `release` hands the lock straight to the next
 * waiter without dropping the entry, so there is no moment in which a newcomer could take a fresh
 * lock beside a waiter that was about to get the old one (the clear()/re-create race of a lock
 * registry). Nothing removes an entry that is held or awaited; that is what makes it safe.
 */
export class KeyedLocks {
  readonly #held = new Map<string, Entry>();

  /** The number of keys that are held right now. */
  get size(): number {
    return this.#held.size;
  }

  isLocked(key: string): boolean {
    return this.#held.has(key);
  }

  /** Takes the lock if it is free; never waits. */
  tryAcquire(key: string): boolean {
    if (this.#held.has(key)) return false;
    this.#held.set(key, { queue: [], watchers: undefined });
    return true;
  }

  /**
   * Takes the lock, waiting in FIFO order behind the current holder. Rejects with the signal's
   * reason if `signal` aborts first; the lock is then neither taken nor disturbed.
   */
  acquire(key: string, signal?: AbortSignal): Promise<void> {
    const entry = this.#held.get(key);
    if (!entry) {
      this.#held.set(key, { queue: [], watchers: undefined });
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, cancelled: false };
      if (signal) {
        const onAbort = () => {
          waiter.cancelled = true;
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.grant = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      }
      entry.queue.push(waiter);
    });
  }

  /**
   * Resolves at the current holder's next release, without taking the lock; `undefined` when the
   * key is not held. Every watcher wakes at once, so callers that only need the holder's result
   * do not file through the lock one by one. Rejects with the signal's reason if it aborts first.
   */
  waitForRelease(key: string, signal?: AbortSignal): Promise<void> | undefined {
    const entry = this.#held.get(key);
    if (!entry) return undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      let wake = resolve;
      if (signal) {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        wake = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      }
      if (entry.watchers) entry.watchers.push(wake);
      else entry.watchers = [wake];
    });
  }

  /** Releases the lock, handing it to the next waiter if there is one. */
  release(key: string): void {
    const entry = this.#held.get(key);
    if (!entry) return;
    const watchers = entry.watchers;
    entry.watchers = undefined;
    let next = entry.queue.shift();
    while (next?.cancelled) next = entry.queue.shift();
    if (next) next.grant();
    else this.#held.delete(key);
    if (watchers) for (const wake of watchers) wake();
  }
}
