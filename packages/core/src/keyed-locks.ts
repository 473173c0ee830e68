interface Entry {
  /**
   * Callers waiting to take the lock, in arrival order (a `Set` iterates in insertion order). An
   * aborted waiter deletes itself at once, so a holder that runs for a long time does not collect
   * the callers that gave up on it.
   */
  queue: Set<() => void> | undefined;
  /** Woken, all at once, at the next release; an aborted watcher deletes itself at once too. */
  watchers: Set<(handoff: unknown) => void> | undefined;
  /** Given to the watchers at the next release; see {@link KeyedLocks.offer}. */
  handoff: unknown;
  /** Watchers moved out of `watchers` by {@link KeyedLocks.share}; they get `shared` instead. */
  sharedWith: Set<(handoff: unknown) => void> | undefined;
  shared: unknown;
}

function newEntry(): Entry {
  return {
    queue: undefined,
    watchers: undefined,
    handoff: undefined,
    sharedWith: undefined,
    shared: undefined,
  };
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

  /** How many callers wait for `key` right now: to take it, or for its release. */
  waiting(key: string): number {
    const entry = this.#held.get(key);
    if (!entry) return 0;
    return (entry.queue?.size ?? 0) + (entry.watchers?.size ?? 0) + (entry.sharedWith?.size ?? 0);
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
   * Resolves at the current holder's next release, without taking the lock; `undefined` when the
   * key is not held. Every watcher wakes at once, so callers that only need the holder's result
   * do not file through the lock one by one. The promise resolves with what the holder passed to
   * {@link offer}, if anything. Rejects with the signal's reason if it aborts first, and the
   * watcher is then forgotten at once.
   */
  waitForRelease(key: string, signal?: AbortSignal): Promise<unknown> | undefined {
    const entry = this.#held.get(key);
    if (!entry) return undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<unknown>((resolve, reject) => {
      let watchers = entry.watchers;
      if (watchers === undefined) {
        watchers = new Set();
        entry.watchers = watchers;
      }
      if (!signal) {
        watchers.add(resolve);
        return;
      }
      const onAbort = () => {
        // share() may have moved this watcher to the shared set.
        watchers.delete(wake);
        entry.sharedWith?.delete(wake);
        reject(signal.reason);
      };
      const wake = (handoff: unknown) => {
        signal.removeEventListener('abort', onAbort);
        resolve(handoff);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      watchers.add(wake);
    });
  }

  /**
   * Lets the holder of `key` give the callers watching for its release a result, delivered with
   * the release (and then forgotten): the region uses it when a watcher cannot read the value the
   * holder stored because the backend is failing. Does nothing when `key` is not held.
   */
  offer(key: string, handoff: unknown): void {
    const entry = this.#held.get(key);
    if (entry) entry.handoff = handoff;
  }

  /**
   * Lets the holder of `key` give the callers watching for its release right now, and only those,
   * `result` at the release, in place of any {@link offer}: the region hands them a read it made
   * after they began to wait, which a caller that comes later may not take as its own. A later
   * `share` replaces `result` for all of them. Does nothing when `key` is not held.
   */
  share(key: string, result: unknown): void {
    const entry = this.#held.get(key);
    if (!entry) return;
    const watchers = entry.watchers;
    if (watchers !== undefined) {
      entry.watchers = undefined;
      if (entry.sharedWith === undefined) entry.sharedWith = watchers;
      else for (const wake of watchers) entry.sharedWith.add(wake);
    }
    entry.shared = result;
  }

  /** Takes back what {@link share} gave: those watchers get the offer, if any, after all. */
  unshare(key: string): void {
    const entry = this.#held.get(key);
    if (entry) entry.shared = undefined;
  }

  /** Releases the lock, handing it to the next waiter if there is one. */
  release(key: string): void {
    const entry = this.#held.get(key);
    if (!entry) return;
    const watchers = entry.watchers;
    const handoff = entry.handoff;
    const sharedWith = entry.sharedWith;
    const shared = entry.shared ?? handoff;
    entry.watchers = undefined;
    entry.handoff = undefined;
    entry.sharedWith = undefined;
    entry.shared = undefined;
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
    if (sharedWith) for (const wake of sharedWith) wake(shared);
    if (watchers) for (const wake of watchers) wake(handoff);
  }
}
