import { channel } from 'node:diagnostics_channel';
import {
  type AcquireOptions,
  type CachedValue,
  type CacheMutex,
  CantDeserializeError,
  LockTimeoutError,
  type NoValue,
  NullMutex,
  reportError,
  ValidationError,
  type WaitForReleaseOptions,
} from '@dogpile/core';
import { CircuitOpenError } from './errors.js';
import { checkOptions, durationMs, integerOption } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/** `'closed'`: calls go through. `'open'`: calls fail at once. `'half-open'`: one probe goes through. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** The name of the channel {@link CircuitBreakerProxy} publishes its state changes on. */
export const circuitChannelName = 'dogpile:circuit';

/** Published on `dogpile:circuit` each time a breaker changes state. */
export interface CircuitEvent {
  /** The breaker's `name`. */
  name: string;
  from: CircuitState;
  to: CircuitState;
  /** The failure that opened it (for `to: 'open'`). */
  error?: unknown;
}

/** A breaker changed state; messages are {@link CircuitEvent}s. */
export const circuitChannel = channel(circuitChannelName);

/**
 * Options of {@link CircuitBreakerProxy}.
 *
 * @example
 * new CircuitBreakerProxy({ failureThreshold: 5, failureWindow: '10s', openFor: '2s' })
 */
export interface CircuitBreakerProxyOptions {
  /** Shown in events, errors and reports. Default: `'backend'`. */
  name?: string;
  /** Failures within `failureWindow` that open the breaker. A whole number, at least 1. Default: `5`. */
  failureThreshold?: number;
  /** Seconds or a duration string: how far back failures count. Default: `10` (seconds). */
  failureWindow?: number | string;
  /**
   * Seconds or a duration string: how long the breaker stays open before it lets one probe call
   * through (half-open). Default: `5` (seconds).
   */
  openFor?: number | string;
  /**
   * Which errors count as failures. Default: every error except the caller's own mistakes
   * (`ERR_VALIDATION`) and unreadable values (`CantDeserializeError`), which say nothing about
   * the backend's health.
   */
  isFailure?: (error: unknown) => boolean;
  /** Called on every state change, after the event is published. Default: none. */
  onStateChange?: (event: CircuitEvent) => void;
}

const KNOWN = [
  'name',
  'failureThreshold',
  'failureWindow',
  'openFor',
  'isFailure',
  'onStateChange',
] as const;

function defaultIsFailure(error: unknown): boolean {
  return !(
    error instanceof ValidationError ||
    error instanceof CantDeserializeError ||
    error instanceof LockTimeoutError ||
    error instanceof CircuitOpenError
  );
}

/**
 * A circuit breaker in front of a backend: after `failureThreshold` failures within
 * `failureWindow` it opens, and every call fails at once with a typed {@link CircuitOpenError}
 * (`ERR_CIRCUIT_OPEN`), without a network wait. After `openFor` one probe call goes through
 * (half-open): its success closes the breaker, its failure opens it again. Each state change is
 * published on the `dogpile:circuit` diagnostics channel; opening is also reported once through
 * core's `reportError` (`dogpile:error`). With `failSafe` on the region, callers behind an open
 * breaker are served from the creator in microseconds.
 *
 * Lock releases always go through (a held lock must be released if the backend answers) and do
 * not count.
 *
 * @example
 * const region = makeRegion({ failSafe: true }).configure(new RedisBackend({ url }), {
 *   wrap: [new CircuitBreakerProxy({ failureThreshold: 3, openFor: '1s' })],
 * });
 */
export class CircuitBreakerProxy extends PassThroughProxy {
  readonly name: string;
  readonly failureThreshold: number;
  readonly failureWindowMs: number;
  readonly openForMs: number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #onStateChange: ((event: CircuitEvent) => void) | undefined;
  #state: CircuitState = 'closed';
  /** Times of the most recent failures (at most `failureThreshold`), oldest first. */
  #failures: number[] = [];
  #openedAt = 0;
  #probing = false;
  /** Which probe is current, and when it started: a probe that hangs past `openFor` is replaced. */
  #probeId = 0;
  #probeStartedAt = 0;

  constructor(options: CircuitBreakerProxyOptions = {}) {
    super();
    const o = checkOptions('CircuitBreakerProxy', options, KNOWN);
    if (o.name !== undefined && (typeof o.name !== 'string' || o.name === '')) {
      throw new ValidationError('CircuitBreakerProxy name must be a non-empty string.');
    }
    for (const fn of ['isFailure', 'onStateChange'] as const) {
      if (o[fn] !== undefined && typeof o[fn] !== 'function') {
        throw new ValidationError(`CircuitBreakerProxy ${fn} must be a function.`);
      }
    }
    this.name = (o.name as string | undefined) ?? 'backend';
    this.failureThreshold = integerOption(
      'CircuitBreakerProxy',
      'failureThreshold',
      o.failureThreshold,
      1,
      5,
    );
    this.failureWindowMs = durationMs(
      'CircuitBreakerProxy',
      'failureWindow',
      o.failureWindow,
      10_000,
    );
    this.openForMs = durationMs('CircuitBreakerProxy', 'openFor', o.openFor, 5000);
    this.#isFailure = (o.isFailure as (error: unknown) => boolean) ?? defaultIsFailure;
    this.#onStateChange = o.onStateChange as ((event: CircuitEvent) => void) | undefined;
  }

  /** The breaker's state now (an open breaker whose `openFor` has passed reads `'half-open'`). */
  get state(): CircuitState {
    if (this.#state === 'open' && performance.now() - this.#openedAt >= this.openForMs) {
      return 'half-open';
    }
    return this.#state;
  }

  /** Closes the breaker and forgets past failures. */
  reset(): void {
    this.#failures = [];
    this.#probing = false;
    if (this.#state !== 'closed') this.#change('closed');
  }

  #change(to: CircuitState, error?: unknown): void {
    const from = this.#state;
    this.#state = to;
    const event: CircuitEvent =
      error === undefined ? { name: this.name, from, to } : { name: this.name, from, to, error };
    if (circuitChannel.hasSubscribers) circuitChannel.publish(event);
    if (to === 'open' && from === 'closed') {
      reportError({ operation: `circuitOpen:${this.name}`, error });
    }
    this.#onStateChange?.(event);
  }

  /**
   * Runs `call` if the breaker lets it through, and counts how it ends. Public so a subclass or a
   * user's own proxy can guard further calls.
   */
  guard<T>(
    operation: string,
    call: () => Promise<T>,
    signal?: AbortSignal | undefined,
  ): Promise<T> {
    let probe = 0;
    if (this.#state !== 'closed') {
      const now = performance.now();
      const waited = now - this.#openedAt;
      if (this.#state === 'open' && waited >= this.openForMs) this.#change('half-open');
      // A probe that has not settled within openFor (a hung call) no longer blocks the next one.
      if (this.#probing && now - this.#probeStartedAt >= this.openForMs) this.#probing = false;
      if (this.#state !== 'half-open' || this.#probing) {
        return Promise.reject(new CircuitOpenError(operation, this.openForMs - waited));
      }
      probe = ++this.#probeId;
      this.#probing = true;
      this.#probeStartedAt = now;
    }
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    if (probe === 0 && this.#state === 'closed') {
      // The closed path: only failures are counted; successes cost nothing.
      return promise.then(undefined, (error: unknown) => {
        if (this.#counts(error, signal)) this.#failed(error, false);
        throw error;
      });
    }
    const current = () => probe !== 0 && probe === this.#probeId && this.#probing;
    return promise.then(
      (value) => {
        if (current()) {
          this.#probing = false;
          this.#failures = [];
          this.#change('closed');
        }
        return value;
      },
      (error: unknown) => {
        const mine = current();
        if (mine) this.#probing = false;
        // A probe that ended in the caller's own error says nothing: the next call probes.
        if (this.#counts(error, signal)) this.#failed(error, mine);
        throw error;
      },
    );
  }

  #counts(error: unknown, signal: AbortSignal | undefined): boolean {
    const aborted = signal?.aborted === true && error === signal.reason;
    return !aborted && this.#isFailure(error);
  }

  #failed(error: unknown, probe: boolean): void {
    const now = performance.now();
    if (probe) {
      this.#openedAt = now;
      this.#change('open', error);
      return;
    }
    // A call let through before the breaker opened, failing late: already counted as open.
    if (this.#state !== 'closed') return;
    const failures = this.#failures;
    failures.push(now);
    if (failures.length > this.failureThreshold) failures.shift();
    if (failures.length >= this.failureThreshold && now - failures[0]! <= this.failureWindowMs) {
      this.#failures = [];
      this.#openedAt = now;
      this.#change('open', error);
    }
  }

  override get(key: string): Promise<CachedValue | NoValue> {
    return this.guard('get', () => this.proxied.get(key));
  }
  override set(key: string, value: CachedValue): Promise<void> {
    return this.guard('set', () => this.proxied.set(key, value));
  }
  override delete(key: string): Promise<void> {
    return this.guard('delete', () => this.proxied.delete(key));
  }
  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.guard('getMulti', () => this.proxied.getMulti(keys));
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.guard('setMulti', () => this.proxied.setMulti(mapping));
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return this.guard('deleteMulti', () => this.proxied.deleteMulti(keys));
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.guard('getSerialized', () => this.proxied.getSerialized(key));
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.guard('getSerializedMulti', () => this.proxied.getSerializedMulti(keys));
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.guard('setSerialized', () => this.proxied.setSerialized(key, value));
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.guard('setSerializedMulti', () => this.proxied.setSerializedMulti(mapping));
  }
  override getMutex(key: string): CacheMutex | null {
    const inner = this.proxied.getMutex(key);
    return inner === null || inner instanceof NullMutex ? inner : new GuardedMutex(inner, this);
  }
}

/** A mutex whose acquires and checks go through the breaker; releases always go through. */
class GuardedMutex implements CacheMutex {
  declare waitForRelease?: (options?: WaitForReleaseOptions) => Promise<boolean>;

  constructor(
    private readonly inner: CacheMutex,
    private readonly breaker: CircuitBreakerProxy,
  ) {
    if (typeof inner.waitForRelease === 'function') {
      this.waitForRelease = (options) =>
        breaker.guard('waitForRelease', () => inner.waitForRelease!(options), options?.signal);
    }
  }

  acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    return this.breaker.guard('acquire', () => this.inner.acquire(wait, options), options?.signal);
  }

  release(): Promise<void> {
    return this.inner.release();
  }

  locked(): Promise<boolean> {
    return this.breaker.guard('locked', () => this.inner.locked());
  }
}
