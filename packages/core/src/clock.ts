/**
 * Where the region reads the time. Inject one (region option `clock`) to test expiry and refresh
 * without sleeping.
 */
export interface Clock {
  /** Wall-clock time in milliseconds since the epoch; fractions allowed. */
  now(): number;
}

const origin = performance.timeOrigin;
let offset = Date.now() - (origin + performance.now());

/**
 * Wall time with sub-millisecond resolution, so that a value created in the same millisecond as an
 * `invalidate()` still orders after it. It follows `Date.now()` and re-syncs if the system clock
 * is stepped by more than a second.
 */
export const systemClock: Clock = {
  now() {
    const t = origin + performance.now() + offset;
    const wall = Date.now();
    if (t - wall > 1000 || wall - t > 1000) {
      offset = wall - (origin + performance.now());
      return wall;
    }
    return t;
  },
};
