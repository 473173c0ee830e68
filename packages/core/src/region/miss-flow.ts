import type { CachedValue } from '../backend/cached-value.js';
import { CachedCreatorError, LockTimeoutError, NeedRegenerationError } from '../errors.js';
import {
  lockWaitChannel,
  publishCoalesced,
  publishLockWait,
  publishMiss,
  publishStaleServed,
  reportError,
} from '../instrumentation.js';
import { Lock, type ValueAndCreated } from '../lock/lock.js';
import { type CacheMutex, NullMutex } from '../lock/mutex.js';
import { WaitForValue } from '../lock/wait-for-value.js';
import { type Made, makeValue } from './creation-step.js';
import { servableOnError } from './fail-safe.js';
import type { FlowContext, MissCall } from './flow-context.js';
import { FlowIO } from './flow-io.js';
import {
  type Regeneration,
  regenerateForSoftTimeout,
  regenerateInBackground,
  withinSoftTimeout,
} from './hand-over.js';
import { LockWait } from './lock-wait.js';
import type { CallSettings } from './region-settings.js';
import { hasTags } from './tag-index.js';

const NEED_REGENERATION = new NeedRegenerationError();

/**
 * The miss path of `getOrCreate`, read top to bottom in {@link run}: coalesce with the caller of
 * this process that already holds the key; else take the key here and run dogpile's `Lock` with
 * the backend's mutex (it waits for another process or serves the stale value, reads again,
 * creates); write; hand the value to the waiters; release. Lock wait timeouts, abort, fail-safe
 * and stale-if-error are steps of that flow, handled where they happen. (`runMiss` in
 * join-creation.ts runs step 1 alone for the plain waiters of a creation, the bulk of a burst.)
 */
export class MissFlow<T> {
  readonly #ctx: FlowContext;
  readonly #call: MissCall<T>;
  readonly #settings: CallSettings;
  /** This call's reads and writes, and the value it holds. */
  readonly #io: FlowIO;
  /** The first read of the Lock gets the value in hand instead of reading. */
  #inHand = true;
  /** A value `until` found while waiting for another process, for the Lock's next read. */
  #found: CachedValue | undefined;
  /** The Lock's last read found a value, so a creation regenerates rather than fills a miss. */
  #sawValue = false;
  /** The lock wait timeout and the caller's signal, as one signal for every wait. */
  readonly #wait: LockWait | undefined;
  #creatorFailure: { error: unknown } | undefined;
  /** softTimeout: the background regeneration this caller handed the key to. */
  #soft: Promise<CachedValue> | undefined;
  /** A call that read nothing publishes `miss` or `coalesced` once it knows which it is. */
  #unreported: boolean;

  constructor(ctx: FlowContext, call: MissCall<T>) {
    this.#ctx = ctx;
    this.#call = call;
    this.#settings = call.settings;
    this.#io = new FlowIO(ctx, call as MissCall<unknown>);
    this.#unreported = !call.early && ctx.freshness.isMiss(call.first);
    const { lockWaitTimeout, signal } = call.settings;
    // Only a caller with nothing to serve ever waits, so only it needs the timer.
    this.#wait =
      (lockWaitTimeout !== null || signal !== undefined) && ctx.freshness.isMiss(call.first)
        ? new LockWait(call.key, lockWaitTimeout, signal)
        : undefined;
  }

  async run(): Promise<T> {
    try {
      return await this.#getOrCreate();
    } catch (error) {
      return await this.#recover(error);
    } finally {
      this.#wait?.dispose();
      if (this.#unreported) this.#report(false);
    }
  }

  /** Publishes what this call was: a miss (it took the key), or coalesced with another's creation. */
  #report(coalesced: boolean): void {
    this.#unreported = false;
    if (coalesced) publishCoalesced(this.#ctx.name, this.#call.key);
    else publishMiss(this.#ctx.name, this.#call.key, false);
  }

  async #getOrCreate(): Promise<T> {
    const { locks, handoffs, freshness } = this.#ctx;
    const { mangled } = this.#call;
    const io = this.#io;
    // 0. The creator failed moments ago (cacheErrorsFor): no new run; a stale value is served.
    if (this.#settings.cacheErrorsForMs !== null) {
      const cached = this.#ctx.errors.recall(mangled, this.#ctx.clock.now());
      if (cached !== undefined) {
        if (!freshness.isMiss(io.value)) return this.#serveCurrent();
        throw new CachedCreatorError(this.#call.key, cached.leftMs, cached.error);
      }
    }
    const remote = this.#ctx.store.mutex(mangled);
    // A backend that stores nothing (NullBackend): no locking at all, everyone creates.
    if (remote instanceof NullMutex) return this.#lock(remote, () => {}).run();
    for (;;) {
      // 1. Another caller of this process holds the key: it regenerates (serve what we have), or
      //    it creates (or waits for another process): wait for its release, with everyone else.
      if (!locks.tryAcquire(mangled)) {
        if (!freshness.isMiss(io.value)) return this.#serveCurrent();
        const since = handoffs.now();
        const started = lockWaitChannel.hasSubscribers ? this.#ctx.clock.now() : -1;
        const payload = await locks.waitForRelease(mangled, this.#wait?.signal);
        if (started >= 0)
          publishLockWait(this.#ctx.name, this.#call.key, this.#ctx.clock.now() - started, false);
        const handed = handoffs.take(payload, since);
        const got = (handed === undefined ? undefined : await handed) ?? (await io.read());
        io.see(hasTags(got) ? await this.#ctx.tags.check(got) : got);
        if (freshness.usable(io.value, this.#settings.expiration)) {
          if (this.#unreported) this.#report(true);
          return io.value.payload as T;
        }
        continue;
      }
      // 2. This caller holds the key here: dogpile's Lock, with the backend's mutex behind ours.
      if (this.#unreported) this.#report(false);
      const mutex = io.mutex(remote, () => this.#foundWhileWaiting());
      let handedOver = false;
      try {
        const served = await this.#lock(mutex, () => {
          handedOver = true;
        }).run();
        // softTimeout: the regeneration went on in the background; wait for it so long only.
        const soft = this.#soft;
        return soft === undefined
          ? served
          : await withinSoftTimeout(soft, served, this.#settings.softTimeoutMs!);
      } catch (error) {
        // Another process released without a value (its creator failed): try again.
        if (mutex instanceof WaitForValue && mutex.released && error instanceof LockTimeoutError) {
          continue;
        }
        throw error;
      } finally {
        if (!handedOver) locks.release(mangled, handoffs.settle(mangled, io.handoff));
      }
    }
  }

  #lock(mutex: CacheMutex, onHandOver: () => void): Lock<T> {
    const { freshness } = this.#ctx;
    this.#inHand = true;
    const { key, early } = this.#call;
    const settings = this.#settings;
    return new Lock<T>(
      mutex,
      () => this.#create(),
      () => this.#lockRead(),
      // An early refresh (XFetch) decided the fresh value is due: any age is past it.
      early ? Number.NEGATIVE_INFINITY : settings.expiration,
      settings.backgroundRefresh
        ? (held) => this.#handOver(held, onHandOver, false)
        : settings.softTimeoutMs !== null && !early
          ? (held) => this.#handOver(held, onHandOver, true)
          : null,
      {
        now: () => freshness.now(),
        key,
        onServeStale: early
          ? undefined
          : (handedOver) => publishStaleServed(this.#ctx.name, key, handedOver),
        ...(this.#wait === undefined ? {} : { acquireOptions: { signal: this.#wait.signal } }),
      },
    );
  }

  /**
   * The Lock's reads: the value in hand first; later, what was found, or a read handed on. Not
   * a promise when nothing had to be awaited, so the Lock goes on in the same turn.
   */
  #lockRead(): ValueAndCreated<T> | Promise<ValueAndCreated<T>> {
    const io = this.#io;
    if (this.#inHand) this.#inHand = false;
    else if (this.#found !== undefined) {
      io.see(this.#found);
      this.#found = undefined;
    } else {
      const read = io.readToHand();
      if (read instanceof Promise) {
        return read.then((value) => {
          io.see(value);
          return this.#held();
        });
      }
      io.see(read);
    }
    return this.#held();
  }

  /** What the Lock reads: the value this call holds, or NeedRegenerationError when there is none. */
  #held(): ValueAndCreated<T> {
    const io = this.#io;
    this.#sawValue = false;
    const { freshness } = this.#ctx;
    if (freshness.isMiss(io.value)) throw NEED_REGENERATION;
    this.#sawValue = true;
    const value = io.value as CachedValue;
    return [value.payload as T, freshness.createdTime(value, this.#settings.expiration)];
  }

  /** Polled while waiting for another process's release: whether its value is there already. */
  async #foundWhileWaiting(): Promise<boolean> {
    const value = await this.#io.readToHand();
    if (!this.#ctx.freshness.usable(value, this.#settings.expiration)) return false;
    this.#found = value;
    return true;
  }

  /** Another caller here regenerates: this one gets the value it holds, stale or (early) fresh. */
  #serveCurrent(): T {
    if (!this.#call.early) publishStaleServed(this.#ctx.name, this.#call.key, false);
    return (this.#io.value as CachedValue).payload as T;
  }

  /** The Lock's creator: creates, stores, and leaves the value for the waiters. */
  async #create(): Promise<ValueAndCreated<T>> {
    const value = await this.#makeAndKeep(true);
    this.#io.see(value);
    return [value.payload as T, value.metadata.ct];
  }

  /** Runs the creator and stores its value unless it said not to. */
  async #makeAndKeep(holding: boolean): Promise<CachedValue> {
    const { value, skipped } = await this.#make({ background: false, holding });
    if (!skipped) await this.#io.write(value);
    return value;
  }

  /** Runs the creator; what it throws is kept for `staleIfError`. */
  #make(how: { background: boolean; holding: boolean }): Promise<Made> {
    return makeValue(this.#ctx, {
      call: this.#call,
      current: this.#io.value,
      reason: this.#call.early ? 'early' : this.#sawValue ? 'stale' : 'miss',
      ...how,
      onFailure: (error) => {
        this.#creatorFailure = { error };
      },
    });
  }

  /**
   * The Lock's async creator (backgroundRefresh; softTimeout with `soft`): this call serves the
   * stale value and the regeneration runs in the background, holding both locks of the key,
   * which it releases when done. softTimeout keeps a way to the regeneration's value.
   */
  #handOver(remote: CacheMutex, onHandOver: () => void, soft: boolean): void {
    onHandOver();
    const { key, mangled } = this.#call;
    let skipped = false;
    const regeneration: Regeneration = {
      key,
      mangled,
      make: async () => {
        const made = await this.#make({ background: true, holding: false });
        skipped = made.skipped;
        return made.value;
      },
      keep: async (value) => {
        if (!skipped) await this.#io.write(value);
      },
    };
    if (soft) this.#soft = regenerateForSoftTimeout(this.#ctx, regeneration, remote);
    else regenerateInBackground(this.#ctx, regeneration, remote);
  }

  /**
   * What went wrong, handled where it can be: a lock wait that timed out reads once more, then
   * throws or (onLockTimeout: 'create') creates without the lock; a creator that threw may leave
   * the stale value to serve (staleIfError).
   */
  async #recover(error: unknown): Promise<T> {
    const io = this.#io;
    const { freshness } = this.#ctx;
    let failure = error;
    if (this.#isLockTimeout(failure)) {
      try {
        io.see(await io.read());
        if (freshness.usable(io.value, this.#settings.expiration)) return io.value.payload as T;
        if (this.#settings.onLockTimeout !== 'create') throw failure;
        return (await this.#makeAndKeep(false)).payload as T;
      } catch (next) {
        failure = next;
      }
    }
    const { staleIfError, expiration } = this.#settings;
    const stale = io.lastSeen;
    if (staleIfError === null || this.#creatorFailure?.error !== failure) throw failure;
    const now = freshness.now();
    if (!servableOnError(stale, now, expiration, staleIfError, freshness.invalidator))
      throw failure;
    const { name: region } = this.#ctx;
    reportError({ operation: 'creator', region, key: this.#call.key, error: failure });
    return stale.payload as T;
  }

  /**
   * This call gave up waiting: its lock wait timeout, or a distributed mutex's own blocking
   * timeout. A `LockTimeoutError` the creator threw (a nested region call) does not count.
   */
  #isLockTimeout(error: unknown): boolean {
    if (this.#wait?.isTimeout(error)) return true;
    return error instanceof LockTimeoutError && this.#creatorFailure?.error !== error;
  }
}
