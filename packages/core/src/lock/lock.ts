import { LockTimeoutError, NeedRegenerationError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { type AcquireOptions, type CacheMutex, FREE } from './mutex.js';

/** A value and its creation time in seconds since the epoch; a time of 0 or less means none. */
export type ValueAndCreated<T> = readonly [value: T, createdTime: number];

/**
 * Receives the mutex, already held, when a stale value exists: it must regenerate the value in
 * the background and release the mutex when done. Meanwhile the stale value is returned.
 */
export type AsyncCreator = (mutex: CacheMutex) => void | Promise<void>;

/** Extra knobs of a {@link Lock}, beyond dogpile's. */
export interface LockOptions {
  /** Current time in seconds since the epoch. Default: `Date.now() / 1000`. */
  now?: () => number;
  /** Passed to the mutex's blocking `acquire`, to stop waiting. */
  acquireOptions?: AcquireOptions;
  /** The key, for error messages. */
  key?: string;
  /**
   * Called when `run()` is about to return a stale value: `handedOver` is `true` when the
   * `asyncCreator` took the mutex to regenerate, `false` when someone else holds it.
   */
  onServeStale?: (handedOver: boolean) => void;
}

const NOT_REGENERATED = Symbol('NOT_REGENERATED');
const defaultNow = () => Date.now() / 1000;

/**
 * The dogpile lock, a port of dogpile/lock.py. Given a mutex, a creator and a function that reads
 * the current value, `run()` returns
 * - a fresh value at once, without touching the mutex;
 * - no value: waits for the mutex, reads again (someone may have created it meanwhile), and runs
 *   the creator if it is still missing;
 * - a stale value: tries the mutex without waiting; if someone else holds it, returns the stale
 *   value at once; if taken, runs the creator, or with an `asyncCreator` hands the mutex to it
 *   and returns the stale value.
 *
 * The mutex is released when `run()` settles, unless it was handed to the `asyncCreator`.
 *
 * @example
 * const value = await new Lock(mutex, create, readCurrent, 60).run();
 */
export class Lock<T> {
  readonly #now: () => number;
  readonly #acquireOptions: AcquireOptions | undefined;
  readonly #key: string;
  readonly #onServeStale: ((handedOver: boolean) => void) | undefined;
  #waitStarted = 0;

  /**
   * @param mutex the lock guarding creation of this value.
   * @param creator creates the value; returns `[value, createdTime]`.
   * @param valueAndCreatedFn reads the current value; returns `[value, createdTime]` or throws
   *   {@link NeedRegenerationError} when there is none.
   * @param expiretime seconds after its creation time that a value is stale; `null` for never.
   * @param asyncCreator optional; see {@link AsyncCreator}.
   */
  constructor(
    readonly mutex: CacheMutex,
    readonly creator: () => Promise<ValueAndCreated<T>> | ValueAndCreated<T>,
    readonly valueAndCreatedFn: () => Promise<ValueAndCreated<T>> | ValueAndCreated<T>,
    readonly expiretime: number | null,
    readonly asyncCreator?: AsyncCreator | null,
    options: LockOptions = {},
  ) {
    this.#now = options.now ?? defaultNow;
    this.#acquireOptions = options.acquireOptions;
    this.#key = options.key ?? '(unnamed)';
    this.#onServeStale = options.onServeStale;
  }

  #hasValue(createdTime: number): boolean {
    return createdTime > 0;
  }

  #isExpired(createdTime: number): boolean {
    return (
      !this.#hasValue(createdTime) ||
      (this.expiretime !== null && this.#now() - createdTime > this.expiretime)
    );
  }

  /**
   * Returns the value, creating it or waiting for it as described on the class. Steps that answer
   * at once (a read that returns its value, the {@link FREE} mutex) are not awaited, so with such
   * a read and mutex the creator starts within this call, before any other caller's code runs.
   */
  async run(): Promise<T> {
    let value: T | typeof NOT_REGENERATED;
    let createdTime: number;
    try {
      const read = this.valueAndCreatedFn();
      [value, createdTime] = read instanceof Promise ? await read : read;
    } catch (error) {
      if (!(error instanceof NeedRegenerationError)) throw error;
      value = NOT_REGENERATED;
      createdTime = -1;
    }

    const generated = await this.#enterCreate(value, createdTime);
    if (generated !== NOT_REGENERATED) return generated[0];
    if (value !== NOT_REGENERATED) return value;
    // There was no value and the creator was not run: only a blocking acquire that gave up (a
    // distributed mutex's own timeout) gets here. A concurrent creator may have stored it by now.
    try {
      return (await this.valueAndCreatedFn())[0];
    } catch (error) {
      if (error instanceof NeedRegenerationError) {
        throw new LockTimeoutError(this.#key, this.#now() * 1000 - this.#waitStarted);
      }
      throw error;
    }
  }

  async #enterCreate(
    value: T | typeof NOT_REGENERATED,
    createdTime: number,
  ): Promise<ValueAndCreated<T> | typeof NOT_REGENERATED> {
    if (!this.#isExpired(createdTime)) return NOT_REGENERATED;

    let hasValue: boolean;
    // FREE is never held by anyone: nothing to take, wait for or release.
    const free = this.mutex === FREE;
    if (this.#hasValue(createdTime)) {
      hasValue = true;
      if (!free && !(await this.mutex.acquire(false))) {
        this.#onServeStale?.(false);
        return NOT_REGENERATED;
      }
    } else {
      hasValue = false;
      this.#waitStarted = this.#now() * 1000;
      if (!free && !(await this.mutex.acquire(true, this.#acquireOptions))) return NOT_REGENERATED;
    }

    let handedOver = false;
    try {
      if (!hasValue) {
        // We waited for the mutex without a value: another holder may have created it meanwhile,
        // or the reader may now report a value usable for asynchronous regeneration.
        try {
          const read = this.valueAndCreatedFn();
          [value, createdTime] = read instanceof Promise ? await read : read;
          hasValue = true;
          if (!this.#isExpired(createdTime)) return [value as T, createdTime];
        } catch (error) {
          if (!(error instanceof NeedRegenerationError)) throw error;
        }
      }

      if (hasValue && this.asyncCreator) {
        const started = this.asyncCreator(this.mutex);
        handedOver = true;
        if (started && typeof started.then === 'function') {
          started.then(undefined, (error: unknown) =>
            reportError({ operation: 'asyncCreator', error }),
          );
        }
        this.#onServeStale?.(true);
        return [value as T, createdTime];
      }

      return await this.creator();
    } finally {
      if (!handedOver && !free) await this.mutex.release();
    }
  }
}
