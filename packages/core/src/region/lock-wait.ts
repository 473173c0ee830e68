import { type Duration, toSeconds } from '../duration.js';
import { LockTimeoutError, ValidationError } from '../errors.js';

/**
 * What a caller does when it waited `lockWaitTimeout` for another caller's creation and there is
 * still no value: `'throw'` a {@link LockTimeoutError}, or `'create'` the value itself without
 * the lock.
 */
export type OnLockTimeout = 'throw' | 'create';

/**
 * How long a caller waits for another caller's creation of the value it needs. Region options
 * (`makeRegion`), each overridable per `getOrCreate` / `getOrCreateMulti` call.
 *
 * @example
 * const region = makeRegion({ lockWaitTimeout: '2s', onLockTimeout: 'create' });
 * // A caller that finds no value while another creates it waits at most 2 s, then creates it
 * // itself; this call waits at most 250 ms and then gives up with a LockTimeoutError:
 * await region.getOrCreate(key, load, { lockWaitTimeout: '250ms', onLockTimeout: 'throw' });
 */
export interface LockWaitOptions {
  /**
   * The longest a caller waits, in total, for another caller's creation when there is no value
   * to serve: seconds or a duration string (`'250ms'`). It covers every way of waiting: for the
   * in-process lock, for the backend's distributed mutex, and for a holder in another process to
   * release it. A caller with a stale value never waits, so it never times out. At the timeout
   * the value is read once more (the holder may just have stored it) before `onLockTimeout`
   * applies. `0` never waits. Default: `null` (or `-1`), wait as long as it takes.
   */
  lockWaitTimeout?: Duration | null;
  /**
   * What a caller does when its wait timed out with no value stored yet, or the distributed
   * mutex gave up on its own blocking timeout:
   * - `'throw'`: rejects with a {@link LockTimeoutError} (`code` `'ERR_LOCK_TIMEOUT'`).
   * - `'create'`: runs the creator itself, without the lock, and stores the result like any
   *   other (subject to `shouldCacheFn`). Unlike nginx's `proxy_cache_lock_timeout`, which passes
   *   the request upstream but does not cache the response, the value is stored: it was made
   *   after the holder's started, so it is at least as fresh as the one the holder will store
   *   (whichever lands last wins, both being fresh), and while the holder is stuck every later
   *   caller then gets a hit instead of waiting out the timeout and creating again. Every caller
   *   that times out runs the creator, so keep the timeout above a normal creation time.
   *
   * Default: `'throw'`.
   */
  onLockTimeout?: OnLockTimeout;
}

/** Per call: {@link LockWaitOptions} and an abort signal. */
export interface CallWaitOptions extends LockWaitOptions {
  /**
   * Stops this caller's waiting when it aborts: the call rejects at once with the signal's
   * reason (an `AbortError` `DOMException` for a plain `controller.abort()`), and leaves the
   * lock's queue at once. Only waiting stops: other callers and the creator that is running are
   * not affected, and a caller that already holds the lock and runs the creator finishes (and
   * stores) its value whatever the signal does. A hit is returned even with an aborted signal,
   * since nothing is waited for. Default: none.
   *
   * @example
   * await region.getOrCreate(key, load, { signal: AbortSignal.timeout(500) });
   */
  signal?: AbortSignal;
}

/** Seconds, or `null` for "wait as long as it takes" (`null`, `undefined` or `-1`). */
export function parseLockWaitTimeout(value: Duration | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  const seconds = toSeconds(value, 'lockWaitTimeout');
  return seconds === -1 ? null : seconds;
}

export function parseOnLockTimeout(value: unknown): OnLockTimeout {
  if (value === 'throw' || value === 'create') return value;
  throw new ValidationError(
    `onLockTimeout must be 'throw' (give up with a LockTimeoutError) or 'create' (run the creator without the lock); got ${JSON.stringify(value) ?? typeof value}.`,
  );
}

export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new ValidationError(
    `signal must be an AbortSignal (for example AbortSignal.timeout(1000) or controller.signal); got ${value === null ? 'null' : typeof value}.`,
  );
}

/**
 * How long one `getOrCreate` call may still wait for another caller's creation: a single signal
 * that aborts when the caller's own `signal` does, with its reason, or when `lockWaitTimeout`
 * passes, with a {@link LockTimeoutError} made for this call. Every wait of the call (for the
 * in-process lock, for the distributed mutex, for a remote holder's release) gets this one signal,
 * so the timeout is the total time waited, however the waiting was split.
 *
 * The caller's signal is followed with a listener removed in {@link dispose} rather than through
 * `AbortSignal.any`, so a long-lived signal shared by many calls keeps nothing of them alive.
 */
export class LockWait {
  readonly #controller = new AbortController();
  /** The key being waited for, named in the timeout's error; a multi-key call moves it along. */
  key: string;
  readonly #userSignal: AbortSignal | undefined;
  readonly #onUserAbort: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timeoutError: LockTimeoutError | undefined;

  /**
   * @param key the caller's key, for the error message.
   * @param timeout seconds from now, or `null` for no timeout.
   * @param signal the caller's own signal, if any.
   */
  constructor(key: string, timeout: number | null, signal: AbortSignal | undefined) {
    this.key = key;
    this.#userSignal = signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#controller.abort(signal.reason);
        return;
      }
      this.#onUserAbort = () => this.#controller.abort(signal.reason);
      signal.addEventListener('abort', this.#onUserAbort, { once: true });
    }
    if (timeout !== null) {
      const ms = timeout * 1000;
      // Not unref'd: the caller is waiting on this timer, and a process whose only work left is a
      // waiting caller must still reach the timeout rather than exit with the call unsettled.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timeoutError = new LockTimeoutError(this.key, ms);
        this.#controller.abort(this.#timeoutError);
      }, ms);
    }
  }

  /** Aborts when the caller should stop waiting. Pass it to every wait. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether `error` is this call's timeout (rather than its abort, or anything else). */
  isTimeout(error: unknown): error is LockTimeoutError {
    return error !== undefined && error === this.#timeoutError;
  }

  /** Stops the timer and the listener on the caller's signal. Call it when the call settles. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onUserAbort !== undefined) {
      this.#userSignal!.removeEventListener('abort', this.#onUserAbort);
    }
  }
}
