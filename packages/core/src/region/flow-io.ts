import type { CachedValue } from '../backend/cached-value.js';
import { lockWaitChannel, publishLockWait } from '../instrumentation.js';
import { type CacheMutex, FREE } from '../lock/mutex.js';
import { timeWaits } from '../lock/timed-mutex.js';
import { WaitForValue } from '../lock/wait-for-value.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { FailSafeMutex } from './fail-safe.js';
import type { FlowContext, MissCall } from './flow-context.js';
import { Handoff } from './handoff.js';
import { hasTags } from './tag-index.js';

/**
 * The backend reads and writes of one miss call, and what they left it: the value it holds, the
 * newest one it saw, what it hands its waiters, and whether the backend failed under fail-safe
 * (then no more backend calls for this call: an outage costs one failing round, not one per step).
 */
export class FlowIO {
  readonly #ctx: FlowContext;
  readonly #key: string;
  readonly #mangled: string;
  readonly #failSafe: boolean;
  /** The value this call holds now: what it read last, or what it created. */
  value: CachedValue | NoValue;
  /** The newest value this call saw: what `staleIfError` may serve. */
  lastSeen: CachedValue | NoValue;
  /** What this caller, holding the key here, leaves the callers waiting for it. */
  handoff: Handoff | undefined;
  /** The backend failed during this call under fail-safe. */
  storeDown: boolean;

  constructor(ctx: FlowContext, call: MissCall<unknown>) {
    this.#ctx = ctx;
    this.#key = call.key;
    this.#mangled = call.mangled;
    this.#failSafe = call.settings.failSafe;
    this.value = call.first;
    this.lastSeen = call.first;
    this.storeDown = call.readFailed;
  }

  see(value: CachedValue | NoValue): void {
    this.value = value;
    if (value !== NO_VALUE) this.lastSeen = value;
  }

  /**
   * Reads the key: at once, without a promise, from a store that answers at once (`readNow`)
   * when the value has no tags to check, so a holder's read before its creator takes no turn.
   */
  read(): CachedValue | NoValue | Promise<CachedValue | NoValue> {
    if (this.storeDown) return NO_VALUE;
    const { store } = this.#ctx;
    const readNow = store.readNow;
    if (readNow === undefined) return this.#guard(store.read(this.#mangled));
    let value: CachedValue | NoValue;
    try {
      value = readNow(this.#mangled);
    } catch (error) {
      return this.#failed(error);
    }
    if (hasTags(value)) return this.#guard(Promise.resolve(value));
    if (store.failing) store.answered();
    return value;
  }

  /** A read by the holder of the key, handed to the callers waiting for it here. */
  readToHand(): CachedValue | NoValue | Promise<CachedValue | NoValue> {
    const { locks, handoffs, store } = this.#ctx;
    // A store read at once hands nothing (its reads are per caller), so it is a plain read.
    if (this.storeDown || store.readNow !== undefined || locks.waiting(this.#mangled) === 0) {
      return this.read();
    }
    const started = handoffs.now();
    const { mine, handed } = store.readToHand(this.#mangled);
    if (handed !== undefined) this.handoff = new Handoff(started, handed, false);
    return this.#guard(mine);
  }

  /** A read as its tags leave it; its failure: unreadable is a miss, with fail-safe so is a failing backend. */
  async #guard(read: Promise<CachedValue | NoValue>): Promise<CachedValue | NoValue> {
    const { store } = this.#ctx;
    try {
      let value = await read;
      if (hasTags(value)) value = await this.#ctx.tags.check(value);
      if (store.failing) store.answered();
      return value;
    } catch (error) {
      return this.#failed(error);
    }
  }

  /** A read that threw: unreadable is a miss (reported); with fail-safe so is a failing backend. */
  #failed(error: unknown): NoValue {
    const value = this.#ctx.store.failedRead(error, this.#key, this.#failSafe);
    if (this.#failSafe) this.storeDown = true;
    return value;
  }

  /**
   * The backend's mutex as this call takes it: timed for the lock-wait channel, failing safe
   * with fail-safe, and given up as soon as `found` sees the value; free once the backend failed.
   */
  mutex(remote: CacheMutex | null, found: () => Promise<boolean>): CacheMutex {
    if (remote === null || this.storeDown) return FREE;
    const { name, clock, store } = this.#ctx;
    const key = this.#key;
    let mutex = lockWaitChannel.hasSubscribers
      ? timeWaits(remote, clock, (ms) => publishLockWait(name, key, ms, true))
      : remote;
    if (this.#failSafe) {
      mutex = new FailSafeMutex(mutex, (operation, error) => {
        this.storeDown = true;
        store.absorbed(operation, key, error);
      });
    }
    return new WaitForValue(mutex, found);
  }

  /**
   * Writes a created value and hands it to the waiters. With fail-safe a failed write is reported
   * and the value handed to every waiter, since none could read it. Once the backend failed in
   * this call, the write is not waited for: it goes on in the background (reported if it fails).
   */
  async write(value: CachedValue): Promise<void> {
    const { store, handoffs } = this.#ctx;
    const key = this.#key;
    const mangled = this.#mangled;
    const started = handoffs.now();
    try {
      const encoded = store.encode(mangled, value);
      if (this.storeDown) {
        this.handoff = new Handoff(started, encoded.handed ?? value, true);
        store.put(mangled, encoded).then(
          () => store.answered(),
          (error: unknown) => store.absorbed('write', key, error),
        );
        return;
      }
      if (encoded.handed !== undefined) this.handoff = new Handoff(started, encoded.handed, false);
      await store.put(mangled, encoded);
      if (store.failing) store.answered();
    } catch (error) {
      if (!this.#failSafe) throw error;
      store.absorbed('write', key, error);
      this.storeDown = true;
      this.handoff = new Handoff(started, value, true);
    }
  }
}
