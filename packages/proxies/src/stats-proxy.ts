import {
  type AcquireOptions,
  type CachedValue,
  type CacheMutex,
  NO_VALUE,
  type NoValue,
  NullMutex,
  type WaitForReleaseOptions,
} from '@dogpile/core';
import { checkOptions } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/** Upper bounds (milliseconds, inclusive) of the latency histogram's buckets; the last is open. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
];

/** Counters of one operation, as {@link StatsProxy.snapshot} returns them. */
export interface OperationStats {
  /** Calls that settled (succeeded or threw). */
  calls: number;
  /** Calls that threw. */
  errors: number;
  /** Sum of the calls' durations, milliseconds. */
  totalMs: number;
  /** The slowest call, milliseconds. */
  maxMs: number;
  /**
   * Calls per latency bucket: `histogram[i]` counts calls of at most `LATENCY_BUCKETS_MS[i]` ms
   * (and more than the bucket before); the last entry counts the slower ones.
   */
  histogram: number[];
}

/** What {@link StatsProxy.snapshot} returns: a plain object, safe to serialize. */
export interface StatsSnapshot {
  /** Per operation (`get`, `getSerializedMulti`, `set`, `acquire`, `release`, ...). */
  operations: Record<string, OperationStats>;
  /** Keys read and found (each key of a multi read counts). */
  hits: number;
  /** Keys read and not found. */
  misses: number;
  /** Bytes of stored values read (`*Serialized` reads only: objects have no size). */
  bytesRead: number;
  /** Bytes of stored values written (`*Serialized` writes only). */
  bytesWritten: number;
  /** Locks taken / attempts that found the lock held. */
  locksAcquired: number;
  locksBusy: number;
  /** When counting started (or was last reset), ms since the epoch. */
  since: number;
}

/** Options of {@link StatsProxy}. None yet; the object is accepted for symmetry. */
export type StatsProxyOptions = Record<string, never>;

class Counter implements OperationStats {
  calls = 0;
  errors = 0;
  totalMs = 0;
  maxMs = 0;
  histogram: number[] = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);

  record(ms: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.histogram[i]!++;
  }
}

/**
 * Counts calls, errors and latencies per operation, hits and misses, bytes read and written, and
 * lock outcomes. `snapshot()` returns a plain object; `reset()` starts over.
 *
 * @example
 * const stats = new StatsProxy();
 * region.configure(backend, { wrap: [stats] });
 * // later
 * const { hits, misses, operations } = stats.snapshot();
 */
export class StatsProxy extends PassThroughProxy {
  #ops = new Map<string, Counter>();
  #hits = 0;
  #misses = 0;
  #bytesRead = 0;
  #bytesWritten = 0;
  #locksAcquired = 0;
  #locksBusy = 0;
  #since = Date.now();

  constructor(options: StatsProxyOptions = {}) {
    super();
    checkOptions('StatsProxy', options, []);
  }

  /** The counters now, as a plain object (a copy: later calls do not change it). */
  snapshot(): StatsSnapshot {
    const operations: Record<string, OperationStats> = {};
    for (const [name, c] of this.#ops) {
      operations[name] = {
        calls: c.calls,
        errors: c.errors,
        totalMs: c.totalMs,
        maxMs: c.maxMs,
        histogram: [...c.histogram],
      };
    }
    return {
      operations,
      hits: this.#hits,
      misses: this.#misses,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      locksAcquired: this.#locksAcquired,
      locksBusy: this.#locksBusy,
      since: this.#since,
    };
  }

  /** Sets every counter back to zero. */
  reset(): void {
    this.#ops.clear();
    this.#hits = this.#misses = this.#bytesRead = this.#bytesWritten = 0;
    this.#locksAcquired = this.#locksBusy = 0;
    this.#since = Date.now();
  }

  #counter(operation: string): Counter {
    let counter = this.#ops.get(operation);
    if (counter === undefined) {
      counter = new Counter();
      this.#ops.set(operation, counter);
    }
    return counter;
  }

  #timed<T>(operation: string, call: () => Promise<T>, onValue?: (value: T) => void): Promise<T> {
    const counter = this.#counter(operation);
    const start = performance.now();
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    return promise.then(
      (value) => {
        counter.record(performance.now() - start, false);
        onValue?.(value);
        return value;
      },
      (error: unknown) => {
        counter.record(performance.now() - start, true);
        throw error;
      },
    );
  }

  #one = (value: unknown): void => {
    if (value === NO_VALUE) {
      this.#misses++;
    } else {
      this.#hits++;
      if (value instanceof Uint8Array) this.#bytesRead += value.length;
    }
  };

  #many = (values: unknown[]): void => {
    for (const value of values) this.#one(value);
  };

  override get(key: string): Promise<CachedValue | NoValue> {
    return this.#timed('get', () => this.proxied.get(key), this.#one);
  }
  override set(key: string, value: CachedValue): Promise<void> {
    return this.#timed('set', () => this.proxied.set(key, value));
  }
  override delete(key: string): Promise<void> {
    return this.#timed('delete', () => this.proxied.delete(key));
  }
  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.#timed('getMulti', () => this.proxied.getMulti(keys), this.#many);
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.#timed('setMulti', () => this.proxied.setMulti(mapping));
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return this.#timed('deleteMulti', () => this.proxied.deleteMulti(keys));
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.#timed('getSerialized', () => this.proxied.getSerialized(key), this.#one);
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.#timed(
      'getSerializedMulti',
      () => this.proxied.getSerializedMulti(keys),
      this.#many,
    );
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.#timed(
      'setSerialized',
      () => this.proxied.setSerialized(key, value),
      () => {
        this.#bytesWritten += value.length;
      },
    );
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.#timed(
      'setSerializedMulti',
      () => this.proxied.setSerializedMulti(mapping),
      () => {
        for (const value of mapping.values()) this.#bytesWritten += value.length;
      },
    );
  }
  override getMutex(key: string): CacheMutex | null {
    const inner = this.proxied.getMutex(key);
    if (inner === null || inner instanceof NullMutex) return inner;
    const mutex: CacheMutex = {
      acquire: (wait = true, options?: AcquireOptions) =>
        this.#timed(
          wait ? 'acquire' : 'tryAcquire',
          () => inner.acquire(wait, options),
          (taken) => {
            if (taken) this.#locksAcquired++;
            else this.#locksBusy++;
          },
        ),
      release: () => this.#timed('release', () => inner.release()),
      locked: () => this.#timed('locked', () => inner.locked()),
    };
    if (typeof inner.waitForRelease === 'function') {
      mutex.waitForRelease = (options?: WaitForReleaseOptions) =>
        this.#timed('waitForRelease', () => inner.waitForRelease!(options));
    }
    return mutex;
  }
}
