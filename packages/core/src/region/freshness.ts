import { type CachedValue, type CacheMetadata, VALUE_VERSION } from '../backend/cached-value.js';
import { type Clock, coarseNow, systemClock } from '../clock.js';
import { ValidationError } from '../errors.js';
import type { RegionInvalidationStrategy } from '../invalidation/invalidation.js';
import { NO_VALUE, type NoValue } from '../no-value.js';

/**
 * Marks this process's copy of a value that a soft `invalidateTags` made stale. Never stored: the
 * wire format drops symbol keys, and the mark is put on a copy, not on a backend's own object.
 */
export const STALE_BY_TAG: unique symbol = Symbol('dogpile.staleByTag');

/** Whether `metadata` is a copy marked {@link STALE_BY_TAG}. */
function staleByTag(metadata: CacheMetadata): boolean {
  return (metadata as { [STALE_BY_TAG]?: true })[STALE_BY_TAG] === true;
}

/**
 * Whether a stored value may be served, by the region's clock and invalidation strategy: fresh
 * (usable), stale (expired or soft-invalidated: servable while one caller regenerates), or a miss
 * (none, another format version, hard-invalidated, or not a value at all).
 */
export class Freshness {
  /** Replaced by `configure({ regionInvalidator })`. */
  invalidator: RegionInvalidationStrategy;

  constructor(
    private readonly clock: Clock,
    invalidator: RegionInvalidationStrategy,
  ) {
    this.invalidator = invalidator;
  }

  /** Seconds since the epoch, the unit of a value's `ct`. */
  now(): number {
    return this.clock.now() / 1000;
  }

  /**
   * {@link now} for expiry checks: with the system clock, read at most once per
   * `EXPIRY_RESOLUTION_MS` (a value may be served that long past its expiry); an injected clock
   * is read every time.
   */
  #expiryNow(): number {
    return (this.clock === systemClock ? coarseNow() : this.clock.now()) / 1000;
  }

  /** Metadata for a value created now. */
  metadata(): CacheMetadata {
    return { ct: this.now(), v: VALUE_VERSION };
  }

  /** A present value that is neither expired nor invalidated for a read with `expiration`. */
  usable(value: CachedValue | NoValue, expiration: number | null): value is CachedValue {
    return this.usableUntagged(value, expiration) && !staleByTag((value as CachedValue).metadata);
  }

  /**
   * {@link usable} for a value as read, without tags (`tg`): no tag can have marked it stale, so
   * the hit path of an untagged value skips that look-up.
   */
  usableUntagged(value: CachedValue | NoValue, expiration: number | null): value is CachedValue {
    if (value === NO_VALUE || value == null) return false;
    const metadata = (value as CachedValue).metadata;
    if (metadata == null || metadata.v !== VALUE_VERSION) return false;
    const ct = metadata.ct;
    return (
      (expiration === null || this.#expiryNow() - ct <= lifeOf(metadata, expiration)) &&
      !this.invalidator.isInvalidated(ct)
    );
  }

  /** No value that could be served, even stale. */
  isMiss(value: CachedValue | NoValue): boolean {
    if (value === NO_VALUE || value == null) return true;
    const metadata = (value as CachedValue).metadata;
    return (
      metadata == null ||
      metadata.v !== VALUE_VERSION ||
      typeof metadata.ct !== 'number' ||
      this.invalidator.isHardInvalidated(metadata.ct)
    );
  }

  /**
   * A value's creation time as dogpile's `Lock` should see it: a soft-invalidated value (by the
   * region, or by a tag) looks expired (as in dogpile's region), which needs an expiration time.
   */
  createdTime(value: CachedValue, expiration: number | null): number {
    const ct = value.metadata.ct;
    if (!this.invalidator.isSoftInvalidated(ct) && !staleByTag(value.metadata)) {
      // A value its creator gave a shorter life looks as old to the Lock as that makes it.
      return expiration === null ? ct : ct - (expiration - lifeOf(value.metadata, expiration));
    }
    if (expiration === null) softInvalidationNeedsExpiration();
    return this.now() - expiration - 0.0001;
  }

  /** Throws when a soft invalidation happened and this call has no expiration time to apply it. */
  checkSoftInvalidation(expiration: number | null): void {
    if (expiration === null && this.invalidator.wasSoftInvalidated()) {
      softInvalidationNeedsExpiration();
    }
  }
}

function softInvalidationNeedsExpiration(): never {
  throw new ValidationError(
    'Soft invalidation needs an expiration time: configure expirationTime, pass one to this call, or invalidate hard (invalidate({ hard: true }), invalidateTags(tags, { hard: true })).',
  );
}

/**
 * How long a value stays fresh under a read's `expiration`: its own shorter life when its creator
 * set one (`et`, seconds, from `setExpirationTime`), else `expiration`.
 */
export function lifeOf(metadata: CacheMetadata, expiration: number): number {
  const own = metadata.et;
  return typeof own === 'number' && own < expiration ? own : expiration;
}
