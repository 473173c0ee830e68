import { BackendClosedError, LockLostError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { type LeaseHost, LeaseMutex } from './lease-mutex.js';
import type { LeaseStore } from './lease-store.js';
import type { LeaseSettings } from './lock-options.js';

/** Options of {@link LeaseLocks}. */
export interface LeaseLocksOptions {
  /** Where the leases live. */
  store: LeaseStore;
  /** From {@link resolveLockOptions}. */
  settings: LeaseSettings;
  /** Names the store in messages, e.g. `'Redis at 127.0.0.1:6379'`. */
  where: string;
  /** Builds the error reported when a lease was lost. Default: a `LockLostError` (`ERR_LOCK_LOST`). */
  lostError?: (message: string) => Error;
  /** Builds the error thrown by locks used or waited on after `close()`. Default: a `BackendClosedError`. */
  closedError?: () => Error;
}

/** How long `close()` waits for the store to give back the leases still held. */
const CLOSE_RELEASE_MS = 2000;
/** The longest pause between background attempts to release an uncertain token. */
const SETTLE_MAX_DELAY_MS = 1000;

/**
 * The distributed locks of one backend: makes its {@link LeaseMutex}es (`mutex(key)`) and owns
 * what they share: the settings, the store, the leases held (given back by {@link close}),
 * waiters to wake at close, and the background release of tokens whose take got no answer.
 *
 * @example
 * class MyBackend extends BytesBackend {
 *   readonly #locks = new LeaseLocks({ store: new MyLeaseStore(client), settings, where: 'my-store' });
 *   override getMutex(key: string) { return this.#locks.mutex(key); }
 *   override async close() { await this.#locks.close(); await client.quit(); }
 * }
 */
export class LeaseLocks {
  readonly store: LeaseStore;
  readonly settings: LeaseSettings;
  readonly where: string;
  readonly #lostError: (message: string) => Error;
  readonly #closedError: () => Error;
  readonly #held = new Set<LeaseMutex>();
  readonly #sleepers = new Set<() => void>();
  /** Tokens being released in the background: token → lock key. */
  readonly #uncertain = new Map<string, string>();
  readonly #host: LeaseHost;
  #closed = false;

  constructor(options: LeaseLocksOptions) {
    this.store = options.store;
    this.settings = options.settings;
    this.where = options.where;
    this.#lostError = options.lostError ?? ((message) => new LockLostError(message));
    this.#closedError =
      options.closedError ??
      (() =>
        new BackendClosedError(
          `The backend on ${this.where} was closed; its locks cannot be taken or waited for. Do not close a backend that is still in use.`,
        ));
    const locks = this;
    this.#host = {
      store: this.store,
      settings: this.settings,
      get closed() {
        return locks.#closed;
      },
      assertOpen: () => {
        if (this.#closed) throw this.#closedError();
      },
      track: (mutex, held) => {
        if (held) this.#held.add(mutex);
        else this.#held.delete(mutex);
      },
      settle: (lockKey, token) => this.#settle(lockKey, token),
      sleep: (ms, signal, onWake) => this.#sleep(ms, signal, onWake),
      lostError: (message) => this.#lostError(message),
    };
  }

  /** The lock of `key`, on `<lockPrefix><key>` in the store. */
  mutex(key: string): LeaseMutex {
    return new LeaseMutex(this.#host, this.settings.lockPrefix + key);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How many leases this backend's mutexes hold right now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** How many tokens of takes that got no answer are still being released in the background. */
  get settlingCount(): number {
    return this.#uncertain.size;
  }

  /**
   * Stops every extension timer, gives back the leases still held (waiting at most 2 s for the
   * store; what it cannot give back expires within `lockTimeout`), and wakes every waiter, which
   * then fails with the "closed" error. Call it first in the backend's `close()`, while the store
   * still works. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#sleepers]) wake();
    const leases: Array<[string, string]> = [];
    for (const mutex of [...this.#held]) {
      const token = mutex.forget();
      if (token !== undefined) leases.push([mutex.lockKey, token]);
    }
    for (const [token, lockKey] of this.#uncertain) leases.push([lockKey, token]);
    this.#uncertain.clear();
    if (leases.length === 0) return;
    const releases = Promise.all(
      leases.map(async ([lockKey, token]) => {
        try {
          await this.store.release(lockKey, token);
        } catch (error) {
          reportError({ operation: 'lockRelease', key: lockKey, error });
        }
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      releases,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_RELEASE_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  #settle(lockKey: string, token: string): void {
    if (this.#closed) return;
    this.#uncertain.set(token, lockKey);
    // After the lease's TTL the store has dropped it anyway.
    const giveUpAt = Date.now() + this.settings.lockTimeoutMs;
    let delay = this.settings.lockPollMinMs;
    const attempt = async () => {
      if (this.#uncertain.get(token) !== lockKey) return;
      try {
        await this.store.release(lockKey, token);
        this.#uncertain.delete(token);
        return;
      } catch {
        // The caller already got the error that made the token uncertain; retrying quietly
        // until the store answers is the whole point here.
        if (this.#closed || Date.now() >= giveUpAt) {
          this.#uncertain.delete(token);
          return;
        }
      }
      delay = Math.min(delay * 2, SETTLE_MAX_DELAY_MS);
      setTimeout(attempt, delay).unref();
    };
    setTimeout(attempt, 0).unref();
  }

  #sleep(
    ms: number,
    signal: AbortSignal | undefined,
    onWake: (wake: () => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        reject(signal!.reason);
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.add(done);
      onWake(done);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
