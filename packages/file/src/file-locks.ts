import { mkdirSync } from 'node:fs';
import { LeaseLocks, type LeaseMutex, validateKey } from '@dogpile/core';
import { FileBackendError, toFileBackendError } from './errors.js';
import { FileLeaseStore } from './file-lease-store.js';
import {
  type FileLockOptions,
  type ResolvedLockOptions,
  resolveLockOnlyOptions,
} from './options.js';

/**
 * Cross-process locks in a directory: `mutex(key)` gives core's `LeaseMutex` over a
 * {@link FileLeaseStore}, exported here as `FileLockMutex`. Every process that uses the same
 * `lockDirectory` (and `lockPrefix`) excludes the others per key. {@link FileBackend} and
 * {@link withFileLocks} make one; use it directly to lock anything else.
 *
 * @example
 * const locks = new FileLocks({ lockDirectory: '/var/lock/myapp' });
 * const mutex = locks.mutex('nightly-report');
 * if (await mutex.acquire(false)) {
 *   try { await buildReport(); } finally { await mutex.release(); }
 * }
 */
export class FileLocks {
  readonly lockDirectory: string;
  readonly store: FileLeaseStore;
  readonly #locks: LeaseLocks;
  /** Set once close() gave the held leases back: the store refuses work from then on. */
  #closed = false;

  /**
   * Validates the options and creates `lockDirectory` (with its parents) if missing.
   * (`resolved` is for {@link FileBackend}, which validated them already.)
   */
  constructor(options: FileLockOptions, resolved?: ResolvedLockOptions) {
    const settings = resolved ?? resolveLockOnlyOptions(options);
    this.lockDirectory = settings.lockDirectory;
    const where = `the lock directory ${this.lockDirectory}`;
    try {
      mkdirSync(this.lockDirectory, { recursive: true });
    } catch (error) {
      throw toFileBackendError(error, 'create the lock directory', where);
    }
    this.store = new FileLeaseStore({
      directory: this.lockDirectory,
      watch: settings.lockWatch,
      assertOpen: () => {
        if (this.#closed) throw this.#closedError();
      },
    });
    this.#locks = new LeaseLocks({
      store: this.store,
      settings: settings.lease,
      where,
      lostError: (message) => new FileBackendError('ERR_FILE_LOCK_LOST', message),
      closedError: () => this.#closedError(),
    });
  }

  #closedError(): FileBackendError {
    return new FileBackendError(
      'ERR_FILE_CLOSED',
      `The file locks in ${this.lockDirectory} were closed; they cannot be taken or waited for. Do not close a backend that is still in use.`,
    );
  }

  /** The lock settings in use, in milliseconds. */
  get settings(): LeaseLocks['settings'] {
    return this.#locks.settings;
  }

  /** The lock of `key` (on `<lockPrefix><key>`), shared by every process using this directory. */
  mutex(key: string): LeaseMutex {
    validateKey(key);
    return this.#locks.mutex(key);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#locks.closed;
  }

  /** How many locks this instance's mutexes hold right now. */
  get heldCount(): number {
    return this.#locks.heldCount;
  }

  /**
   * Removes the locks of holders that died (expired leases) and take directories a killed taker
   * left behind. Not needed for correctness (an expired lock is taken over by the next taker);
   * it only tidies the directory. Resolves how many entries it removed.
   */
  prune(): Promise<number> {
    return this.store.prune();
  }

  /**
   * Gives back the locks still held (their extension stops), and makes waiters fail with
   * `ERR_FILE_CLOSED`. Idempotent.
   */
  async close(): Promise<void> {
    // The store still works while LeaseLocks gives the held leases back.
    await this.#locks.close();
    this.#closed = true;
  }
}
