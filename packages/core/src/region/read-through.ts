import type { CachedValue } from '../backend/cached-value.js';
import { hitChannel, missChannel, publishHit, publishMiss } from '../instrumentation.js';
import { validateKey } from '../keys/key-validation.js';
import type { NoValue } from '../no-value.js';
import type { RandomSource } from '../random.js';
import { refreshEarly } from './early-refresh.js';
import { type FlowContext, missCall } from './flow-context.js';
import { runMiss } from './join-creation.js';
import type { Creator, GetOrCreateOptions } from './region-options.js';
import { type CallSettings, checkCreator, resolveCallSettings } from './region-settings.js';
import type { RegionStore } from './region-store.js';
import { hasTags, type TagIndex } from './tag-index.js';

/** What a {@link ReadThrough} reads with: one configured backend's store and flow context. */
export interface ReadThroughParts {
  readonly store: RegionStore;
  readonly tags: TagIndex;
  /** Every call's settings when it passes no options. */
  readonly defaults: CallSettings;
  readonly flow: FlowContext;
  /** Early refresh's coin. */
  readonly random: RandomSource;
}

/** One `getOrCreate` call, as it reads its key. */
interface ReadForCall<T> {
  readonly key: string;
  readonly mangled: string;
  readonly creator: Creator<T>;
  readonly settings: CallSettings;
}

/** How the value in hand was read. */
interface HowRead {
  /** It had tags, checked against the tags' invalidation times. */
  readonly tagged: boolean;
  /** The read failed under fail-safe: the value is a miss and the backend is not asked again. */
  readonly readFailed?: boolean;
}

const UNTAGGED: HowRead = { tagged: false };
const TAGGED: HowRead = { tagged: true };

/**
 * `getOrCreate` up to its miss: the key and options checked, one read, a fresh value served;
 * anything else handed to the miss flow (`runMiss`, then miss-flow.ts), which tells whether this
 * caller creates the value or waits for it. One per configured backend.
 *
 * Not async methods: on a store that answers at once (memory) a hit is read, checked and resolved
 * within the call, without an async function's frame (a fifth of such a hit), and a caller that
 * waits for a creation gets the waiting promise itself. Whatever throws rejects the returned
 * promise, as from an async function.
 */
export class ReadThrough {
  readonly #parts: ReadThroughParts;

  constructor(parts: ReadThroughParts) {
    this.#parts = parts;
  }

  getOrCreate<T>(key: string, creator: Creator<T>, options?: GetOrCreateOptions<T>): Promise<T> {
    try {
      const { store, defaults } = this.#parts;
      // A hit on a store that answers at once checks only that the key is a string; anything
      // else, from a miss on, checks the whole key first (`#serve`).
      const mangled = store.readKey(key);
      checkCreator(creator);
      // Every option is checked here, before anything is read or locked.
      const settings =
        options === undefined
          ? defaults
          : resolveCallSettings(defaults, options as never, 'getOrCreate');
      const readNow = store.readNow;
      if (readNow === undefined) return this.#readAndServe({ key, mangled, creator, settings });
      let value: CachedValue | NoValue;
      try {
        value = readNow(mangled);
      } catch (error) {
        return settled(this.#failedRead({ key, mangled, creator, settings }, error));
      }
      // The usual hit, served here as #serve would: nothing else is allocated for it.
      if (
        !hasTags(value) &&
        settings.earlyBeta === 0 &&
        this.#parts.flow.freshness.usableUntagged(value, settings.expiration)
      ) {
        if (hitChannel.hasSubscribers) publishHit(this.#parts.flow.name, key);
        return Promise.resolve((value as CachedValue).payload as T);
      }
      const read: ReadForCall<T> = { key, mangled, creator, settings };
      if (!hasTags(value)) return settled(this.#serve(read, value, UNTAGGED));
      // Awaited only if it has to read: a tagged hit on current tag times is served at once.
      const checked = this.#parts.tags.check(value);
      if (!(checked instanceof Promise)) return settled(this.#serve(read, checked, TAGGED));
      return checked.then(
        (current) => this.#serve(read, current, TAGGED),
        (error: unknown) => this.#failedRead(read, error),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** On a store read with a promise (Redis, SQLite, ...): reads, checks tags, serves. */
  async #readAndServe<T>(read: ReadForCall<T>): Promise<T> {
    const { store, tags } = this.#parts;
    let value: CachedValue | NoValue;
    let how = UNTAGGED;
    try {
      value = await store.read(read.mangled);
      if (hasTags(value)) {
        value = await tags.check(value);
        how = TAGGED;
      }
    } catch (error) {
      // Nothing runs here unless the read failed, so a hit pays nothing for this.
      return this.#failedRead(read, error);
    }
    return this.#serve(read, value, how);
  }

  /**
   * The read failed: an unreadable value is a miss (reported); any other failure fails the
   * call, or with fail-safe is reported once and the call goes on as a miss.
   */
  #failedRead<T>(read: ReadForCall<T>, error: unknown): T | Promise<T> {
    const { failSafe } = read.settings;
    const value = this.#parts.store.failedRead(error, read.key, failSafe);
    return this.#serve(read, value, { tagged: false, readFailed: failSafe });
  }

  /**
   * What the call serves for the value it read: the value, when fresh (flipping the coin of
   * early refresh); else the miss flow.
   */
  #serve<T>(read: ReadForCall<T>, value: CachedValue | NoValue, how: HowRead): T | Promise<T> {
    const { key, settings } = read;
    const { expiration } = settings;
    const { flow, random } = this.#parts;
    const { freshness } = flow;
    const readFailed = how.readFailed === true;
    if (
      how.tagged ? freshness.usable(value, expiration) : freshness.usableUntagged(value, expiration)
    ) {
      if (hitChannel.hasSubscribers) publishHit(flow.name, key);
      if (settings.earlyBeta === 0) return (value as CachedValue).payload as T;
      validateKey(key);
      const call = missCall(read, { first: value, early: true, readFailed });
      return refreshEarly({ flow, call, freshness, random });
    }
    // A caller with nothing at all is a miss or, if another caller here creates the value for
    // it, coalesced: the flow tells which. A stale read is a miss now.
    validateKey(key);
    const stale = !freshness.isMiss(value);
    if (stale && missChannel.hasSubscribers) publishMiss(flow.name, key, true);
    return runMiss<T>(flow, missCall(read, { first: value, early: false, readFailed }));
  }
}

/** `result` as a promise, for a method that is not async but must only ever resolve or reject. */
function settled<T>(result: T | Promise<T>): Promise<T> {
  return result instanceof Promise ? result : Promise.resolve(result);
}
