import {
  type AcquireOptions,
  type CacheBackend,
  type CachedValue,
  type CacheMutex,
  type NoValue,
  NullMutex,
  type WaitForReleaseOptions,
} from '@dogpile/core';
import { coarseNow, TICK_MS, useCoarseClock } from './coarse-clock.js';
import { BackendTimeoutError } from './errors.js';
import { checkOptions, durationMs } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/**
 * Options of {@link TimeoutProxy}.
 *
 * @example
 * new TimeoutProxy({ timeout: '50ms' })
 */
export interface TimeoutProxyOptions {
  /**
   * The longest one backend call may take: seconds, or a duration string such as `'50ms'`. A
   * call past it fails with `ERR_BACKEND_TIMEOUT`. Blocking lock acquires (`acquire(true)`,
   * `waitForRelease`) are not cut: waiting for another creator is their job; the lock's own
   * `lockBlockingTimeout` bounds them. Default: `1` (second).
   */
  timeout?: number | string;
}

const KNOWN = ['timeout'] as const;

/**
 * Gives every backend call a deadline: past it the call fails with a typed
 * {@link BackendTimeoutError} (`ERR_BACKEND_TIMEOUT`), so a region with `failSafe` serves from its
 * creator instead of waiting on a stalled store. The late result is discarded: a late read is
 * dropped, a late non-blocking lock acquire that succeeded is released. A late write may still
 * land, as any write whose answer was lost may.
 *
 * @example
 * region.configure(new RedisBackend({ url }), { wrap: [new TimeoutProxy({ timeout: '50ms' })] });
 */
export class TimeoutProxy extends PassThroughProxy {
  /** The deadline of each call, in milliseconds. */
  readonly timeoutMs: number;

  constructor(options: TimeoutProxyOptions = {}) {
    super();
    const o = checkOptions('TimeoutProxy', options, KNOWN);
    this.timeoutMs = durationMs('TimeoutProxy', 'timeout', o.timeout, 1000);
  }

  /** Calls in flight, oldest first (all share one timeout, so this is deadline order too). */
  readonly #pending = new PendingList();
  #releaseClock: (() => void) | undefined;
  /** The one timer, armed while calls are in flight, for the oldest one's deadline. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `call`'s promise, or a `BackendTimeoutError` once the deadline passes; `onLate` sees a late result. */
  deadline<T>(operation: string, call: () => Promise<T>, onLate?: (value: T) => void): Promise<T> {
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      return Promise.reject(error);
    }
    // The coarse clock lags by up to a tick: a call times out between timeoutMs and
    // timeoutMs + TICK_MS after it started, never before.
    const deadline =
      (this.#releaseClock === undefined ? performance.now() : coarseNow()) +
      this.timeoutMs +
      TICK_MS;
    const pending = new Pending<T>(operation, deadline, this.#pending, onLate);
    this.#pending.push(pending);
    if (this.#timer === undefined) this.#arm(this.timeoutMs + TICK_MS);
    promise.then(pending.settle, pending.fail);
    return pending.promise;
  }

  // One timer for every call in flight instead of one per call: a timer costs about as much as
  // a memory hit, so per-call timers would double the cost of a fast backend.
  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, ms));
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let pending = this.#pending.head; pending !== undefined; pending = this.#pending.head) {
      if (pending.deadline > now + 0.5) {
        this.#arm(pending.deadline - now);
        return;
      }
      pending.timeOut(new BackendTimeoutError(pending.operation, this.timeoutMs));
    }
  }

  override wrap(backend: CacheBackend): this {
    super.wrap(backend);
    this.#releaseClock = useCoarseClock();
    return this;
  }

  override async close(): Promise<void> {
    this.#releaseClock?.();
    return super.close();
  }

  override get(key: string): Promise<CachedValue | NoValue> {
    return this.deadline('get', () => this.proxied.get(key));
  }
  override set(key: string, value: CachedValue): Promise<void> {
    return this.deadline('set', () => this.proxied.set(key, value));
  }
  override delete(key: string): Promise<void> {
    return this.deadline('delete', () => this.proxied.delete(key));
  }
  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.deadline('getMulti', () => this.proxied.getMulti(keys));
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.deadline('setMulti', () => this.proxied.setMulti(mapping));
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return this.deadline('deleteMulti', () => this.proxied.deleteMulti(keys));
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.deadline('getSerialized', () => this.proxied.getSerialized(key));
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.deadline('getSerializedMulti', () => this.proxied.getSerializedMulti(keys));
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.deadline('setSerialized', () => this.proxied.setSerialized(key, value));
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.deadline('setSerializedMulti', () => this.proxied.setSerializedMulti(mapping));
  }
  override getMutex(key: string): CacheMutex | null {
    const inner = this.proxied.getMutex(key);
    return inner === null || inner instanceof NullMutex ? inner : new TimedMutex(inner, this);
  }
}

/** The calls in flight, as a doubly linked list: O(1) to add and remove, no hashing. */
interface ListNode {
  prev: ListNode | undefined;
  next: ListNode | undefined;
  readonly deadline: number;
  readonly operation: string;
  timeOut(error: Error): void;
}

class PendingList {
  head: ListNode | undefined;
  tail: ListNode | undefined;

  push(node: ListNode): void {
    node.prev = this.tail;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
  }

  remove(node: ListNode): void {
    if (node.prev === undefined) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = undefined;
  }
}

/** A call in flight under {@link TimeoutProxy}: settles once, by its result or by the timeout. */
class Pending<T> implements ListNode {
  prev: ListNode | undefined;
  next: ListNode | undefined;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #done = false;

  constructor(
    readonly operation: string,
    readonly deadline: number,
    private readonly list: PendingList,
    private readonly onLate: ((value: T) => void) | undefined,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  readonly settle = (value: T): void => {
    if (this.#done) {
      this.onLate?.(value);
      return;
    }
    this.#done = true;
    this.list.remove(this);
    this.#resolve(value);
  };

  readonly fail = (error: unknown): void => {
    if (this.#done) return; // Late failure: nobody is waiting for it any more.
    this.#done = true;
    this.list.remove(this);
    this.#reject(error);
  };

  timeOut(error: Error): void {
    this.#done = true;
    this.list.remove(this);
    this.#reject(error);
  }
}

/** A mutex whose non-blocking calls get {@link TimeoutProxy}'s deadline. */
class TimedMutex implements CacheMutex {
  declare waitForRelease?: (options?: WaitForReleaseOptions) => Promise<boolean>;

  constructor(
    private readonly inner: CacheMutex,
    private readonly proxy: TimeoutProxy,
  ) {
    if (typeof inner.waitForRelease === 'function') {
      this.waitForRelease = (options) => inner.waitForRelease!(options);
    }
  }

  acquire(wait = true, options?: AcquireOptions): Promise<boolean> {
    if (wait) return this.inner.acquire(true, options);
    return this.proxy.deadline(
      'acquire',
      () => this.inner.acquire(false, options),
      (late) => {
        // Taken after the caller gave up: nobody will release it, so release it now.
        if (late) this.inner.release().catch(() => {});
      },
    );
  }

  release(): Promise<void> {
    return this.proxy.deadline('release', () => this.inner.release());
  }

  locked(): Promise<boolean> {
    return this.proxy.deadline('locked', () => this.inner.locked());
  }
}
