/**
 * Where the region reads the time. Inject one (region option `clock`) to test expiry and refresh
 * without sleeping.
 */
export interface Clock {
  /** Wall-clock time in milliseconds since the epoch; fractions allowed. */
  now(): number;
}

const RESYNC_EVERY = 4096;
let offset = Date.now() - performance.now();
let untilResync = RESYNC_EVERY;

/**
 * Wall time with sub-millisecond resolution, so that a value created in the same millisecond as an
 * `invalidate()` still orders after it. One monotonic read per call (a clock read costs tens of
 * nanoseconds, a large share of a cache hit); every few thousand calls it re-anchors on
 * `Date.now()`, so a stepped system clock is followed.
 */
export const systemClock: Clock = {
  now() {
    if (--untilResync === 0) {
      untilResync = RESYNC_EVERY;
      const wall = Date.now();
      const t = performance.now() + offset;
      if (t - wall > 1000 || wall - t > 1000) offset = wall - performance.now();
    }
    return performance.now() + offset;
  },
};

/**
 * How late an expiry may be noticed on the hit path, in milliseconds: with the system clock, a
 * read checks expiry against a time read at most this long ago, so a value is served at most
 * this long past its expiration time. Creation times and invalidations always read the clock.
 */
export const EXPIRY_RESOLUTION_MS = 1;

let coarse = 0;
const forgetCoarse = () => {
  coarse = 0;
};

/**
 * `systemClock.now()`, read at most once per {@link EXPIRY_RESOLUTION_MS} (as lru-cache's
 * `ttlResolution`): a clock read is a large share of a memory hit, and hits in a burst share one.
 */
export function coarseNow(): number {
  if (coarse !== 0) return coarse;
  coarse = systemClock.now();
  setTimeout(forgetCoarse, EXPIRY_RESOLUTION_MS).unref();
  return coarse;
}
