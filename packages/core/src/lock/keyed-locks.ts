/** One key's lock: its holder is implied by the entry existing. */
interface Entry {
  /**
   * Callers waiting to take the lock, in arrival order (a `Set` iterates in insertion order). An
   * aborted waiter deletes itself at once, so a holder that runs for a long time does not collect
   * the callers that gave up on it.
   */
  queue: Set<() => void> | undefined;
  /** Woken, all at once, at the next release, with what the holder passed to it. */
  watchers: Set<(payload: unknown) => void> | undefined;
  /**
   * The next release, for watchers without a signal: they never leave early, so they share one
   * promise (a burst of callers on a cold key costs one promise, not one each) and a count.
   */
  release: { promise: Promise<unknown>; resolve: (payload: unknown) => void } | undefined;
  /** How many callers await {@link release}. */
  sharing: number;
  /** Called when the last waiter left because its signal aborted (see {@link KeyedLocks.onAbandoned}). */
  abandoned: (() => void) | undefined;
}

/** A held key's entry, with nobody waiting yet (one shape for every entry). */
function newEntry(): Entry {
  return {
    queue: undefined,
    watchers: undefined,
    abandoned: undefined,
    release: undefined,
    sharing: 0,
  };
}

/**
 * The in-process lock for each key, created on first use and dropped as soon as nobody holds it
 * or waits for it, so millions of distinct keys leave nothing behind.
 *
 * A key is held exactly while it has an entry. `release` hands the lock straight to the next
 * waiter without dropping the entry, so there is no moment in which a newcomer could take a fresh
 * lock beside a waiter that was about to get the old one (the clear()/re-create race of a lock
 * registry, seed 000). Nothing removes an entry that is held or awaited; that is what makes it
 * safe.
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

  /** How many callers wait for `key` right now: to take it, or for its release. */
  waiting(key: string): number {
    const entry = this.#held.get(key);
    if (!entry) return 0;
    return (entry.queue?.size ?? 0) + (entry.watchers?.size ?? 0) + entry.sharing;
  }

  /** Takes the lock if it is free; never waits. */
  tryAcquire(key: string): boolean {
    if (this.#held.has(key)) return false;
    this.#held.set(key, newEntry());
    return true;
  }

  /**
   * Takes the lock, waiting in FIFO order behind the current holder. Rejects with the signal's
   * reason if `signal` aborts first; the waiter then leaves the queue at once, and the lock is
   * neither taken nor disturbed.
   */
  acquire(key: string, signal?: AbortSignal): Promise<void> {
    const entry = this.#held.get(key);
    if (!entry) {
      this.#held.set(key, newEntry());
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      let queue = entry.queue;
      if (queue === undefined) {
        queue = new Set();
        entry.queue = queue;
      }
      if (!signal) {
        queue.add(resolve);
        return;
      }
      const onAbort = () => {
        queue.delete(grant);
        reject(signal.reason);
        this.#left(key, entry);
      };
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.add(grant);
    });
  }

  /**
   * Resolves at the current holder's next release, without taking the lock, with what the holder
   * passed to {@link release}; `undefined` (not a promise) when the key is not held. Every watcher
   * wakes at once, so callers that only need the holder's result do not file through the lock one
   * by one. Rejects with the signal's reason if it aborts first, and the watcher is then forgotten.
   */
  waitForRelease(key: string, signal?: AbortSignal): Promise<unknown> | undefined {
    const entry = this.#held.get(key);
    if (!entry) return undefined;
    if (!signal) {
      entry.sharing++;
      let release = entry.release;
      if (release === undefined) {
        let resolve!: (payload: unknown) => void;
        const promise = new Promise<unknown>((settle) => {
          resolve = settle;
        });
        release = { promise, resolve };
        entry.release = release;
      }
      return release.promise;
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      let watchers = entry.watchers;
      if (watchers === undefined) {
        watchers = new Set();
        entry.watchers = watchers;
      }
      const onAbort = () => {
        entry.watchers?.delete(wake);
        reject(signal.reason);
        this.#left(key, entry);
      };
      const wake = (payload: unknown) => {
        signal.removeEventListener('abort', onAbort);
        resolve(payload);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      watchers.add(wake);
    });
  }

  /**
   * Calls `listener` when the last caller waiting for `key` leaves because its signal aborted,
   * until the holder calls the returned function (or releases). For `abortWhenAbandoned`.
   */
  onAbandoned(key: string, listener: () => void): () => void {
    const entry = this.#held.get(key);
    if (!entry) return () => {};
    entry.abandoned = listener;
    return () => {
      if (entry.abandoned === listener) entry.abandoned = undefined;
    };
  }

  #left(key: string, entry: Entry): void {
    if (entry.abandoned !== undefined && this.#held.get(key) === entry && this.waiting(key) === 0) {
      entry.abandoned();
    }
  }

  /**
   * Releases the lock, handing it to the next waiter if there is one, and wakes every watcher with
   * `payload` (what the holder leaves them: the region's hand-off of the value).
   */
  release(key: string, payload?: unknown): void {
    const entry = this.#held.get(key);
    if (!entry) return;
    const watchers = entry.watchers;
    const shared = entry.release;
    entry.watchers = undefined;
    entry.release = undefined;
    entry.sharing = 0;
    entry.abandoned = undefined;
    const queue = entry.queue;
    let next: (() => void) | undefined;
    if (queue !== undefined) {
      for (const first of queue) {
        next = first;
        break;
      }
    }
    if (next) {
      queue!.delete(next);
      next();
    } else this.#held.delete(key);
    shared?.resolve(payload);
    if (watchers) for (const wake of watchers) wake(payload);
  }
}
