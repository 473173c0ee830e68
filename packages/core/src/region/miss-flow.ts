import { CachedValue } from '../backend/cached-value.js';
import type { Clock } from '../clock.js';
import {
  CachedCreatorError,
  LockTimeoutError,
  NeedRegenerationError,
  RegionClosedError,
} from '../errors.js';
import {
  lockWaitChannel,
  publishCoalesced,
  publishLockWait,
  publishMiss,
  publishStaleServed,
  reportError,
} from '../instrumentation.js';
import type { KeyedLocks } from '../lock/keyed-locks.js';
import { Lock, type ValueAndCreated } from '../lock/lock.js';
import { type CacheMutex, NullMutex } from '../lock/mutex.js';
import { timeWaits } from '../lock/timed-mutex.js';
import { FREE, WaitForValue } from '../lock/wait-for-value.js';
import type { NoValue } from '../no-value.js';
import { NO_VALUE } from '../no-value.js';
import { Creation } from './creation.js';
import type { ErrorCache } from './error-cache.js';
import { FailSafeMutex, servableOnError } from './fail-safe.js';
import type { Freshness } from './freshness.js';
import {
  type Regeneration,
  regenerateForSoftTimeout,
  regenerateInBackground,
  withinSoftTimeout,
} from './hand-over.js';
import { Handoff, type Handoffs } from './handoff.js';
import { LockWait } from './lock-wait.js';
import { type Created, runCreator } from './regeneration.js';
import type { AsyncCreationRunner, CachingRegion, Creator } from './region-options.js';
import type { CallSettings } from './region-settings.js';
import type { RegionStore } from './region-store.js';

/** What the miss flow needs from its region. */
export interface FlowContext {
  readonly name: string;
  readonly store: RegionStore;
  readonly locks: KeyedLocks;
  readonly handoffs: Handoffs;
  readonly freshness: Freshness;
  readonly clock: Clock;
  readonly asyncCreationRunner: AsyncCreationRunner | undefined;
  /** What a user's `asyncCreationRunner` is given as the region. */
  readonly region: CachingRegion;
  /** The creations callers are waiting for now, aborted by `close()`. */
  readonly creations: Set<Creation<unknown>>;
  /** Creator errors remembered for `cacheErrorsFor`. */
  readonly errors: ErrorCache;
  /** Runs `job` detached from the caller, then releases `mutex`; `close()` waits for it. */
  background(job: () => Promise<unknown>, mutex: CacheMutex, key: string): void;
  /** Whether `store` is still the region's (not closed, not re-configured since). */
  isCurrent(store: RegionStore): boolean;
}

/** One call of `getOrCreate` that found no fresh value. */
export interface MissCall<T> {
  readonly key: string;
  readonly mangled: string;
  /** What the call read: missing, stale, or (early refresh) fresh. */
  readonly first: CachedValue | NoValue;
  readonly creator: Creator<T>;
  readonly settings: CallSettings;
  /** An early refresh of a fresh value (XFetch) rather than a miss. */
  readonly early: boolean;
  /** The first read failed and fail-safe took it as a miss: the backend is down for this call. */
  readonly readFailed: boolean;
}

const NEED_REGENERATION = new NeedRegenerationError();

/**
 * The miss path of `getOrCreate`, read top to bottom in {@link run}: coalesce with the caller of
 * this process that already holds the key; else take the key here and run dogpile's `Lock` with
 * the backend's mutex (it waits for another process or serves the stale value, reads again,
 * creates); write; hand the value to the waiters; release. Lock wait timeouts, abort, fail-safe
 * and stale-if-error are steps of that flow, handled where they happen.
 */
export class MissFlow<T> {
  readonly #ctx: FlowContext;
  readonly #call: MissCall<T>;
  readonly #settings: CallSettings;
  /** The value this call holds now: what it read last, or what it created. */
  #value: CachedValue | NoValue;
  /** The newest value this call saw: what `staleIfError` may serve. */
  #lastSeen: CachedValue | NoValue;
  /** The first read of the Lock gets the value in hand instead of reading. */
  #inHand = true;
  /** A value `until` found while waiting for another process, for the Lock's next read. */
  #found: CachedValue | undefined;
  /** What this caller, holding the key here, leaves the callers waiting for it. */
  #handoff: Handoff | undefined;
  /** The backend failed during this call under fail-safe: no more backend calls for it. */
  #storeDown = false;
  /** The Lock's last read found a value, so a creation regenerates rather than fills a miss. */
  #sawValue = false;
  /** The lock wait timeout and the caller's signal, as one signal for every wait. */
  readonly #wait: LockWait | undefined;
  #creatorFailure: { error: unknown } | undefined;
  /** softTimeout: the background regeneration this caller handed the key to. */
  #soft: Promise<CachedValue> | undefined;
  /** The creator called `skip()`: its value is returned, not stored. */
  #skipped = false;
  /** A call that read nothing publishes `miss` or `coalesced` once it knows which it is. */
  #unreported: boolean;

  constructor(ctx: FlowContext, call: MissCall<T>) {
    this.#ctx = ctx;
    this.#call = call;
    this.#settings = call.settings;
    this.#value = call.first;
    this.#lastSeen = call.first;
    this.#storeDown = call.readFailed;
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
    // 0. The creator failed moments ago (cacheErrorsFor): no new run; a stale value is served.
    if (this.#settings.cacheErrorsForMs !== null) {
      const cached = this.#ctx.errors.recall(mangled, this.#ctx.clock.now());
      if (cached !== undefined) {
        if (!freshness.isMiss(this.#value)) return this.#serveCurrent();
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
        if (!freshness.isMiss(this.#value)) return this.#serveCurrent();
        const since = handoffs.now();
        const started = lockWaitChannel.hasSubscribers ? this.#ctx.clock.now() : -1;
        const payload = await locks.waitForRelease(mangled, this.#wait?.signal);
        if (started >= 0)
          publishLockWait(this.#ctx.name, this.#call.key, this.#ctx.clock.now() - started, false);
        const handed = handoffs.take(payload, since);
        this.#see((handed === undefined ? undefined : await handed) ?? (await this.#read()));
        if (freshness.usable(this.#value, this.#settings.expiration)) {
          if (this.#unreported) this.#report(true);
          return this.#value.payload as T;
        }
        continue;
      }
      // 2. This caller holds the key here: dogpile's Lock, with the backend's mutex behind ours.
      if (this.#unreported) this.#report(false);
      const mutex = this.#mutex(remote);
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
        if (!handedOver) locks.release(mangled, handoffs.settle(mangled, this.#handoff));
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
        ? (held) => this.#inBackground(held, onHandOver)
        : settings.softTimeoutMs !== null && !early
          ? (held) => this.#softHandOver(held, onHandOver)
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

  /** The backend's mutex as this call takes it; always free once the backend failed here. */
  #mutex(remote: CacheMutex | null): CacheMutex {
    if (remote === null || this.#storeDown) return FREE;
    const { name, clock, store } = this.#ctx;
    const { key } = this.#call;
    let mutex = lockWaitChannel.hasSubscribers
      ? timeWaits(remote, clock, (ms) => publishLockWait(name, key, ms, true))
      : remote;
    if (this.#settings.failSafe) {
      mutex = new FailSafeMutex(mutex, (operation, error) => {
        this.#storeDown = true;
        store.absorbed(operation, key, error);
      });
    }
    return new WaitForValue(mutex, () => this.#foundWhileWaiting());
  }

  /** The Lock's reads: the value in hand first; later, what was found, or a read handed on. */
  async #lockRead(): Promise<ValueAndCreated<T>> {
    if (this.#inHand) this.#inHand = false;
    else if (this.#found !== undefined) {
      this.#see(this.#found);
      this.#found = undefined;
    } else this.#see(await this.#readToHand());
    this.#sawValue = false;
    const { freshness } = this.#ctx;
    if (freshness.isMiss(this.#value)) throw NEED_REGENERATION;
    this.#sawValue = true;
    const value = this.#value as CachedValue;
    return [value.payload as T, freshness.createdTime(value, this.#settings.expiration)];
  }

  /** Polled while waiting for another process's release: whether its value is there already. */
  async #foundWhileWaiting(): Promise<boolean> {
    const value = await this.#readToHand();
    if (!this.#ctx.freshness.usable(value, this.#settings.expiration)) return false;
    this.#found = value;
    return true;
  }

  /** A read by the holder of the key, handed to the callers waiting for it here. */
  #readToHand(): Promise<CachedValue | NoValue> {
    const { locks, handoffs, store } = this.#ctx;
    const { mangled } = this.#call;
    if (this.#storeDown || locks.waiting(mangled) === 0) return this.#read();
    const started = handoffs.now();
    const { mine, handed } = store.readToHand(mangled);
    if (handed !== undefined) this.#handoff = new Handoff(started, handed, false);
    return this.#guard(mine);
  }

  #read(): Promise<CachedValue | NoValue> {
    if (this.#storeDown) return Promise.resolve(NO_VALUE);
    return this.#guard(this.#ctx.store.read(this.#call.mangled));
  }

  /** A read's failure: unreadable is a miss; with fail-safe, so is a failing backend. */
  async #guard(read: Promise<CachedValue | NoValue>): Promise<CachedValue | NoValue> {
    const { store } = this.#ctx;
    try {
      const value = await read;
      if (store.failing) store.answered();
      return value;
    } catch (error) {
      const value = store.failedRead(error, this.#call.key, this.#settings.failSafe);
      if (this.#settings.failSafe) this.#storeDown = true;
      return value;
    }
  }

  #see(value: CachedValue | NoValue): void {
    this.#value = value;
    if (value !== NO_VALUE) this.#lastSeen = value;
  }

  /** Another caller here regenerates: this one gets the value it holds, stale or (early) fresh. */
  #serveCurrent(): T {
    if (!this.#call.early) publishStaleServed(this.#ctx.name, this.#call.key, false);
    return (this.#value as CachedValue).payload as T;
  }

  /** The Lock's creator: creates, stores, and leaves the value for the waiters. */
  async #create(): Promise<ValueAndCreated<T>> {
    const value = await this.#make(false);
    if (this.#shouldCache(value)) await this.#store(value);
    this.#see(value);
    return [value.payload as T, value.metadata.ct];
  }

  /** Runs the creator and wraps its result; what it throws is remembered for `staleIfError`. */
  async #make(background: boolean): Promise<CachedValue> {
    const ctx = this.#ctx;
    const { clock, name, freshness } = ctx;
    const { key, mangled, early, creator } = this.#call;
    const settings = this.#settings;
    const current = this.#value;
    const stale = freshness.isMiss(current) ? NO_VALUE : (current as CachedValue).payload;
    const creation = new Creation<T>(key, stale as T, settings.expiration);
    // The creator gets its context after its own arguments; one that takes none ignores it.
    const args = [...settings.creatorArgs, creation] as never[];
    // close() aborts the creations callers wait for; it lets background ones finish and store.
    if (!background) ctx.creations.add(creation as Creation<unknown>);
    let created: Created<T>;
    try {
      created = await runCreator(
        async () => {
          try {
            return await creation.run(() => creator(...args), settings.hardTimeoutMs);
          } catch (error) {
            this.#creatorFailed(error);
            throw error;
          }
        },
        clock,
        settings.measure,
        name,
        key,
        early ? 'early' : this.#sawValue ? 'stale' : 'miss',
        background,
      );
    } finally {
      ctx.creations.delete(creation as Creation<unknown>);
    }
    ctx.errors.forget(mangled);
    const value = new CachedValue(created.payload, freshness.metadata());
    if (settings.measure) value.metadata.cd = created.seconds;
    // Its own shorter life travels with it (`et`, ignored by Python dogpile.cache): the creation
    // time stays true, so an invalidation before it never retires it.
    if (creation.freshFor !== undefined) value.metadata.et = creation.freshFor;
    this.#skipped = creation.skipped;
    freshness.checkSoftInvalidation(settings.expiration);
    return value;
  }

  /** Remembers what the creator threw: for `staleIfError`, and for `cacheErrorsFor`. */
  #creatorFailed(error: unknown): void {
    this.#creatorFailure = { error };
    const forMs = this.#settings.cacheErrorsForMs;
    if (forMs !== null && !(error instanceof RegionClosedError)) {
      this.#ctx.errors.remember(this.#call.mangled, error, this.#ctx.clock.now(), forMs);
    }
  }

  #shouldCache(value: CachedValue): boolean {
    if (this.#skipped) return false;
    const shouldCacheFn = this.#settings.shouldCacheFn;
    return shouldCacheFn === undefined || shouldCacheFn(value.payload);
  }

  /**
   * Writes a created value and hands it to the waiters. With fail-safe a failed write is reported
   * and the value handed to every waiter, since none could read it. Once the backend failed in
   * this call, the write is not waited for: it goes on in the background (reported if it fails),
   * so an outage costs the caller one failing round, not one per step.
   */
  async #store(value: CachedValue): Promise<void> {
    const { store, handoffs } = this.#ctx;
    const { key, mangled } = this.#call;
    const started = handoffs.now();
    try {
      const encoded = store.encode(mangled, value);
      if (this.#storeDown) {
        this.#handoff = new Handoff(started, encoded.handed ?? value, true);
        store.put(mangled, encoded).then(
          () => store.answered(),
          (error: unknown) => store.absorbed('write', key, error),
        );
        return;
      }
      if (encoded.handed !== undefined) this.#handoff = new Handoff(started, encoded.handed, false);
      await store.put(mangled, encoded);
      if (store.failing) store.answered();
    } catch (error) {
      if (!this.#settings.failSafe) throw error;
      store.absorbed('write', key, error);
      this.#storeDown = true;
      this.#handoff = new Handoff(started, value, true);
    }
  }

  /**
   * The Lock's async creator: this call serves the stale value and the regeneration runs in the
   * background, holding both locks of the key, which it releases when done.
   */
  #inBackground(remote: CacheMutex, onHandOver: () => void): void {
    onHandOver();
    regenerateInBackground(this.#ctx, this.#regeneration(), remote);
  }

  /** softTimeout: the same hand-over, keeping a way to the regeneration's value. */
  #softHandOver(remote: CacheMutex, onHandOver: () => void): void {
    onHandOver();
    this.#soft = regenerateForSoftTimeout(this.#ctx, this.#regeneration(), remote);
  }

  /** This call's regeneration, as the background hand-overs run it. */
  #regeneration(): Regeneration {
    const { key, mangled } = this.#call;
    return {
      key,
      mangled,
      make: () => this.#make(true),
      keep: async (value) => {
        if (this.#shouldCache(value)) await this.#store(value);
      },
    };
  }

  /**
   * What went wrong, handled where it can be: a lock wait that timed out reads once more, then
   * throws or (onLockTimeout: 'create') creates without the lock; a creator that threw may leave
   * the stale value to serve (staleIfError).
   */
  async #recover(error: unknown): Promise<T> {
    let failure = error;
    if (this.#isLockTimeout(failure)) {
      try {
        this.#see(await this.#read());
        const { freshness } = this.#ctx;
        if (freshness.usable(this.#value, this.#settings.expiration)) {
          return this.#value.payload as T;
        }
        if (this.#settings.onLockTimeout !== 'create') throw failure;
        const value = await this.#make(false);
        if (this.#shouldCache(value)) await this.#store(value);
        return value.payload as T;
      } catch (next) {
        failure = next;
      }
    }
    const window = this.#settings.staleIfError;
    const stale = this.#lastSeen;
    const { freshness } = this.#ctx;
    if (
      window === null ||
      this.#creatorFailure?.error !== failure ||
      !servableOnError(
        stale,
        freshness.now(),
        this.#settings.expiration,
        window,
        freshness.invalidator,
      )
    ) {
      throw failure;
    }
    reportError({
      operation: 'creator',
      region: this.#ctx.name,
      key: this.#call.key,
      error: failure,
    });
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
