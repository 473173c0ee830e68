import { type Clock, systemClock } from '../clock.js';

/**
 * The version of the value format. A stored value whose `v` differs is treated as a miss, so a
 * format change never hands an old value to new code.
 */
export const VALUE_VERSION = 2;

/**
 * What is stored beside each payload. `ct` is the creation time in seconds since the epoch (a
 * float, as in Python's `time.time()`), `v` the format version; other fields may be added and are
 * ignored by readers that do not know them (Python dogpile.cache among them).
 */
export interface CacheMetadata {
  ct: number;
  v: number;
  /**
   * How long the creator took, in seconds (a float). Written only when early refresh is on, which
   * reads it; optional, so values without it (older ones, Python's) read as before.
   */
  cd?: number;
  /**
   * How long this value stays fresh, in seconds, when its creator set a shorter life than the
   * region's (`setExpirationTime`). Optional; Python dogpile.cache ignores it.
   */
  et?: number;
  [extra: string]: unknown;
}

/** A payload and its metadata, as stored by a backend. */
export class CachedValue<T = unknown> {
  readonly #clock: Clock | undefined;

  /** @param clock what {@link age} reads the time from: a region passes its own. Default: the system clock. */
  constructor(
    readonly payload: T,
    readonly metadata: CacheMetadata,
    clock?: Clock,
  ) {
    this.#clock = clock;
  }

  /** Creation time in seconds since the epoch. */
  get cachedTime(): number {
    return this.metadata.ct;
  }

  /** Seconds since the value was created. */
  get age(): number {
    return (this.#clock ?? systemClock).now() / 1000 - this.metadata.ct;
  }
}
