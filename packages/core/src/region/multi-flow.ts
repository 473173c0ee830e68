import { CachedValue } from '../backend/cached-value.js';
import { LockStateError, LockTimeoutError, ValidationError } from '../errors.js';
import {
  hitChannel,
  lockWaitChannel,
  missChannel,
  publishHit,
  publishLockWait,
  publishMiss,
  publishStaleServed,
  reportError,
} from '../instrumentation.js';
import { Lock, type ValueAndCreated } from '../lock/lock.js';
import { type CacheMutex, NullMutex } from '../lock/mutex.js';
import { RegionMutex } from '../lock/region-mutex.js';
import { timeWaits } from '../lock/timed-mutex.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { FailSafeMutex, servableOnError } from './fail-safe.js';
import type { FlowContext } from './flow-context.js';
import { LockWait } from './lock-wait.js';
import { runMultiCreator } from './regeneration.js';
import type { CallSettings } from './region-settings.js';

/** The creator of `getOrCreateMulti`: given the keys to create, sorted, returns their values. */
export type MultiCreator<T> = (...keys: string[]) => readonly T[] | Promise<readonly T[]>;

const NEVER = async (): Promise<ValueAndCreated<unknown>> => {
  throw new LockStateError('getOrCreateMulti creates through its async creator only.');
};

/**
 * `getOrCreateMulti`: one backend read for every key; the keys that are missing or stale are
 * locked in sorted order (so concurrent calls cannot deadlock), each through dogpile's `Lock`,
 * whose async creator hands the held mutex back here instead of creating; then one creator call
 * for all of them, one write, and the locks released.
 */
export class MultiFlow<T> {
  readonly #ctx: FlowContext;
  readonly #settings: CallSettings;
  /** Caller key → backend key, for the distinct keys in sorted order. */
  readonly #mangled = new Map<string, string>();
  /** Backend key → the value this call holds for it. */
  readonly #values = new Map<string, CachedValue | NoValue>();
  /** The backend failed during this call under fail-safe. */
  #storeDown = false;

  constructor(
    ctx: FlowContext,
    keys: readonly string[],
    private readonly creator: MultiCreator<T>,
    settings: CallSettings,
  ) {
    this.#ctx = ctx;
    this.#settings = settings;
    for (const key of [...new Set(keys)].sort()) this.#mangled.set(key, ctx.store.key(key));
  }

  async run(keys: readonly string[]): Promise<T[]> {
    const ctx = this.#ctx;
    const settings = this.#settings;
    const mangled = [...this.#mangled.values()];
    const read = await this.#readAll(mangled);
    mangled.forEach((key, i) => {
      this.#values.set(key, read[i]!);
    });
    if (hitChannel.hasSubscribers || missChannel.hasSubscribers) this.#publishReads();
    const wait = this.#waitBudget();
    /** Keys whose lock wait gave up with `onLockTimeout: 'create'`: created without their lock. */
    const bypassed = new Set<string>();
    const held = new Map<string, CacheMutex>();
    try {
      for (const [key, backendKey] of this.#mangled) {
        const lockStarted = ctx.clock.now();
        if (wait !== undefined) wait.key = key;
        try {
          await new Lock<unknown>(
            this.#mutex(key, backendKey),
            NEVER,
            () => this.#valueAndCreated(backendKey),
            settings.expiration,
            (mutex) => {
              held.set(key, mutex);
            },
            {
              now: () => ctx.freshness.now(),
              key,
              // Handed over: this call creates the key itself, below.
              onServeStale: (handedOver) => {
                if (!handedOver) publishStaleServed(ctx.name, key, false);
              },
              ...(wait === undefined ? {} : { acquireOptions: { signal: wait.signal } }),
            },
          ).run();
        } catch (error) {
          // The Lock here never runs a creator: a LockTimeoutError is always a wait giving up.
          if (!(wait?.isTimeout(error) || error instanceof LockTimeoutError)) throw error;
          await this.#gaveUp(error, key, bypassed);
          continue;
        }
        if (!held.has(key) && ctx.freshness.isMiss(this.#values.get(backendKey)!)) {
          // Neither a value nor the lock: the distributed mutex gave up on its own timeout.
          const error = new LockTimeoutError(key, ctx.clock.now() - lockStarted);
          await this.#gaveUp(error, key, bypassed);
        }
      }
      if (held.size > 0 || bypassed.size > 0) {
        const toCreate = [...held.keys(), ...bypassed].sort();
        const served = await this.#create(toCreate);
        if (served !== undefined) return keys.map((key) => served.get(key) as T);
      }
      return keys.map((key) => this.#payload(key));
    } finally {
      wait?.dispose();
      for (const mutex of held.values()) await mutex.release();
    }
  }

  #payload(key: string): T {
    return (this.#values.get(this.#mangled.get(key)!) as CachedValue).payload as T;
  }

  /** Creates `keys` with one creator call and one write; stale values instead, if it threw and staleIfError allows. */
  async #create(keys: readonly string[]): Promise<Map<string, unknown> | undefined> {
    const ctx = this.#ctx;
    const settings = this.#settings;
    const heldValue = (key: string) => this.#values.get(this.#mangled.get(key)!)!;
    let created: readonly T[];
    try {
      created = await runMultiCreator(
        () => this.creator(...keys),
        ctx.clock,
        ctx.name,
        keys,
        (key) => (ctx.freshness.isMiss(heldValue(key)) ? 'miss' : 'stale'),
      );
    } catch (error) {
      const window = settings.staleIfError;
      const now = ctx.freshness.now();
      const stale = keys.map(heldValue);
      if (
        window === null ||
        !stale.every((value) =>
          servableOnError(value, now, settings.expiration, window, ctx.freshness.invalidator),
        )
      ) {
        throw error;
      }
      reportError({ operation: 'creator', region: ctx.name, key: keys.join(' '), error });
      return new Map([...this.#mangled.keys()].map((key) => [key, this.#payload(key)]));
    }
    if (!Array.isArray(created) || created.length !== keys.length) {
      throw new ValidationError(
        `The getOrCreateMulti creator must return an array of ${keys.length} values, one per key it was given; it returned ${Array.isArray(created) ? `${created.length} values` : typeof created}.`,
      );
    }
    ctx.freshness.checkSoftInvalidation(settings.expiration);
    const metadata = ctx.freshness.metadata();
    const toStore = new Map<string, CachedValue>();
    keys.forEach((key, i) => {
      const backendKey = this.#mangled.get(key)!;
      const value = new CachedValue(created[i], metadata);
      this.#values.set(backendKey, value);
      if (settings.shouldCacheFn === undefined || settings.shouldCacheFn(created[i]))
        toStore.set(backendKey, value);
    });
    await this.#writeAll(toStore, keys);
    return undefined;
  }

  #valueAndCreated(backendKey: string): readonly [unknown, number] {
    const value = this.#values.get(backendKey)!;
    const { freshness } = this.#ctx;
    if (freshness.isMiss(value)) return [NO_VALUE, 0];
    const cached = value as CachedValue;
    return [cached.payload, freshness.createdTime(cached, this.#settings.expiration)];
  }

  /**
   * The mutex of one key: the in-process lock, then the backend's (which fail-safe may take as
   * held when the backend fails: the in-process lock still holds), its waits timed when watched.
   */
  #mutex(key: string, backendKey: string): CacheMutex {
    const ctx = this.#ctx;
    let remote = this.#storeDown ? null : ctx.store.mutex(backendKey);
    if (remote instanceof NullMutex) return remote;
    if (remote !== null && this.#settings.failSafe) {
      remote = new FailSafeMutex(remote, (operation, error) => {
        this.#storeDown = true;
        ctx.store.absorbed(operation, key, error);
      });
    }
    const mutex = new RegionMutex(ctx.locks, backendKey, remote);
    if (!lockWaitChannel.hasSubscribers) return mutex;
    return timeWaits(
      mutex,
      ctx.clock,
      (ms) => publishLockWait(ctx.name, key, ms, remote !== null),
      // An uncontended in-process lock is taken at once: only report real waits.
      () => remote !== null || ctx.locks.isLocked(backendKey),
    );
  }

  /** The waiting budget of the call, when it has one and a key is missing. */
  #waitBudget(): LockWait | undefined {
    const { lockWaitTimeout, signal } = this.#settings;
    if (lockWaitTimeout === null && signal === undefined) return undefined;
    for (const value of this.#values.values()) {
      if (this.#ctx.freshness.isMiss(value)) {
        return new LockWait(this.#mangled.keys().next().value!, lockWaitTimeout, signal);
      }
    }
    return undefined;
  }

  /**
   * A key whose lock wait gave up: read once more (the holder may have stored it); a value, even
   * stale, is served; else `onLockTimeout` says throw, or create it here without its lock.
   */
  async #gaveUp(error: unknown, key: string, bypassed: Set<string>): Promise<void> {
    const backendKey = this.#mangled.get(key)!;
    const [value] = await this.#readAll([backendKey]);
    if (!this.#ctx.freshness.isMiss(value!)) {
      this.#values.set(backendKey, value!);
      return;
    }
    if (this.#settings.onLockTimeout !== 'create') throw error;
    bypassed.add(key);
  }

  async #readAll(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    const { store, tags } = this.#ctx;
    if (this.#storeDown) return keys.map(() => NO_VALUE);
    try {
      const values = await tags.checkAll(await store.readMulti(keys));
      if (store.failing) store.answered();
      return values;
    } catch (error) {
      if (!this.#settings.failSafe) throw error;
      this.#storeDown = true;
      store.absorbed('readMulti', keys.join(' '), error);
      return keys.map(() => NO_VALUE);
    }
  }

  async #writeAll(mapping: Map<string, CachedValue>, keys: readonly string[]): Promise<void> {
    const { store } = this.#ctx;
    if (this.#storeDown) {
      // Not waited for: the caller already paid for one failing round.
      store.writeMulti(mapping).then(
        () => store.answered(),
        (error: unknown) => store.absorbed('writeMulti', keys.join(' '), error),
      );
      return;
    }
    try {
      await store.writeMulti(mapping);
    } catch (error) {
      if (!this.#settings.failSafe) throw error;
      this.#storeDown = true;
      store.absorbed('writeMulti', keys.join(' '), error);
    }
  }

  /** Publishes a hit or a miss for each key read. */
  #publishReads(): void {
    const ctx = this.#ctx;
    for (const [key, backendKey] of this.#mangled) {
      const value = this.#values.get(backendKey)!;
      if (ctx.freshness.usable(value, this.#settings.expiration)) publishHit(ctx.name, key);
      else publishMiss(ctx.name, key, !ctx.freshness.isMiss(value));
    }
  }
}
