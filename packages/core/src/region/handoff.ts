import { CachedValue } from '../backend/cached-value.js';
import type { NoValue } from '../no-value.js';
import { SharedValue } from './shared-reads.js';

/**
 * What the holder of a key's lock hands the callers waiting for it: a value it created and
 * wrote, or one it read after another process's creator released. Each waiter takes its own
 * copy (a `SharedValue` deserializes once per taker); a store of objects hands out the object,
 * as its reads do.
 */
export type HandedValue = CachedValue | SharedValue | Promise<SharedValue | CachedValue | NoValue>;

/** One hand-off: a value, and when the read or write that produced it started. */
export class Handoff {
  /**
   * @param startedAt the {@link Handoffs.now} tick at which the read or write began.
   * @param forAll give it even to callers that began to wait after that: used when the holder's
   *   write failed under fail-safe, since no waiter could read the value then.
   */
  constructor(
    readonly startedAt: number,
    readonly value: HandedValue,
    readonly forAll: boolean,
  ) {}
}

/**
 * The rules of handing values from a lock holder to its waiters, so that a process always reads
 * its own writes:
 * - a waiter takes a hand-off only if the read or write behind it started after the waiter began
 *   to wait (a read from before may predate a write the waiter saw complete);
 * - a write or delete through the region while the key is held takes back anything handed out
 *   from before it ({@link revoke}); those waiters read for themselves.
 *
 * Times are ticks of one counter per region, not clock readings: only their order matters.
 */
export class Handoffs {
  #tick = 0;
  /** Keys written or deleted through the region while their lock was held: key → tick. */
  readonly #revoked = new Map<string, number>();

  /** A new tick: call when a waiter starts waiting, and when a read or write to hand off starts. */
  now(): number {
    return ++this.#tick;
  }

  /** A write or delete of `key` through the region: hand-offs made before it are void. */
  revoke(key: string): void {
    this.#revoked.set(key, ++this.#tick);
  }

  /**
   * What the holder of `key` leaves its waiters as it releases: `handoff`, unless a write or
   * delete since it started took it back. Forgets the key's revocation: the next holder's
   * hand-offs all start after it.
   */
  settle(key: string, handoff: Handoff | undefined): Handoff | undefined {
    if (this.#revoked.size === 0) return handoff;
    const revokedAt = this.#revoked.get(key);
    if (revokedAt === undefined) return handoff;
    this.#revoked.delete(key);
    return handoff !== undefined && revokedAt > handoff.startedAt ? undefined : handoff;
  }

  /**
   * The waiter's own copy of what a release gave it, if it may take it (see the class), else
   * `undefined`: then it reads for itself. A failed read resolves `undefined` too.
   */
  take(
    payload: unknown,
    waitingSince: number,
  ): CachedValue | NoValue | Promise<CachedValue | NoValue | undefined> | undefined {
    if (!(payload instanceof Handoff)) return undefined;
    if (!payload.forAll && payload.startedAt <= waitingSince) return undefined;
    const value = payload.value;
    if (value instanceof CachedValue) return value;
    if (value instanceof Promise) return value.then(copy, noValue);
    return value.copy();
  }
}

const copy = (value: SharedValue | CachedValue | NoValue) =>
  value instanceof SharedValue ? value.copy() : value;
const noValue = () => undefined;
