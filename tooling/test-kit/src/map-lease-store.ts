// The shapes of core's LeaseStore and ReleaseWatch, restated so this private package needs no
// dependency on core (core's own tests use it, and a dependency back would be a cycle).
/** Core's `ReleaseWatch`. */
export interface ReleaseWatch {
  readonly listening: boolean;
  stop(): void;
}

interface Lease {
  token: string;
  expiresAt: number;
}

/** Options of {@link MapLeaseStore}. */
export interface MapLeaseStoreOptions {
  /** Offer `watchReleases`, as a store with pub/sub would. Default: `false` (waiters poll). */
  announces?: boolean;
}

/**
 * Core's `LeaseStore` in a `Map`, shared by every `LeaseLocks` given the same instance, as a
 * server is shared by processes. Faults can be switched on to test what a lock does when its
 * store is slow, down, or answers too late:
 * - `latencyMs`: every operation takes this long;
 * - `down`: every operation throws this error (nothing happens);
 * - `answersLost`: every operation happens, then throws `down` (a client-side timeout of a
 *   command the server ran anyway).
 */
export class MapLeaseStore {
  readonly leases = new Map<string, Lease>();
  readonly calls = { tryTake: 0, release: 0, extend: 0, isHeld: 0 };
  latencyMs = 0;
  down: Error | undefined;
  answersLost = false;
  readonly #watchers = new Map<string, Set<() => void>>();
  listening = true;
  readonly watchReleases?: (lockKey: string, onRelease: () => void) => ReleaseWatch;

  constructor(options: MapLeaseStoreOptions = {}) {
    if (options.announces) {
      this.watchReleases = (lockKey, onRelease) => {
        let set = this.#watchers.get(lockKey);
        if (set === undefined) {
          set = new Set();
          this.#watchers.set(lockKey, set);
        }
        set.add(onRelease);
        const store = this;
        return {
          get listening() {
            return store.listening;
          },
          stop: () => {
            set.delete(onRelease);
            if (set.size === 0) this.#watchers.delete(lockKey);
          },
        };
      };
    }
  }

  /** The live lease on `lockKey`, if any. */
  lease(lockKey: string): Lease | undefined {
    const lease = this.leases.get(lockKey);
    return lease !== undefined && lease.expiresAt > Date.now() ? lease : undefined;
  }

  async #op<T>(run: () => T): Promise<T> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.down !== undefined && !this.answersLost) throw this.down;
    const result = run();
    if (this.down !== undefined) throw this.down;
    return result;
  }

  tryTake(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    this.calls.tryTake++;
    return this.#op(() => {
      if (this.lease(lockKey) !== undefined) return false;
      this.leases.set(lockKey, { token, expiresAt: Date.now() + ttlMs });
      return true;
    });
  }

  release(lockKey: string, token: string): Promise<boolean> {
    this.calls.release++;
    return this.#op(() => {
      if (this.lease(lockKey)?.token !== token) return false;
      this.leases.delete(lockKey);
      for (const wake of [...(this.#watchers.get(lockKey) ?? [])]) wake();
      return true;
    });
  }

  extend(lockKey: string, token: string, ttlMs: number): Promise<boolean> {
    this.calls.extend++;
    return this.#op(() => {
      const lease = this.lease(lockKey);
      if (lease?.token !== token) return false;
      lease.expiresAt = Date.now() + ttlMs;
      return true;
    });
  }

  isHeld(lockKey: string): Promise<boolean> {
    this.calls.isHeld++;
    return this.#op(() => this.lease(lockKey) !== undefined);
  }
}
