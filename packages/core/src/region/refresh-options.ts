import type { EarlyRefreshOptions } from './early-refresh.js';

/**
 * When values are regenerated beyond dogpile's "one creator, the others wait or get the stale
 * value". Region options (`makeRegion`), each overridable per `getOrCreate` call.
 *
 * @example
 * const region = makeRegion({ backgroundRefresh: true, earlyRefresh: { beta: 1 } });
 * // Stale values are served at once and regenerated once in the background; fresh ones are
 * // renewed shortly before they expire. This call regenerates a stale value in the foreground:
 * await region.getOrCreate(key, load, { backgroundRefresh: false });
 */
export interface RefreshOptions {
  /**
   * Serve a stale value at once and regenerate it in the background: the caller that takes the
   * creation lock gets the stale value too, and exactly one regeneration runs while it holds that
   * lock (across processes when the backend's mutex is distributed; the background job releases
   * it when done). If the creator throws, the stale value stays and the error goes to the
   * `dogpile:error` channel. A key with no value at all is still created in the foreground, since
   * there is nothing to serve meanwhile. `close()` waits for running regenerations. The region's
   * `asyncCreationRunner`, when given, is the runner used (it takes precedence over the built-in
   * one). Default: `false`, or `true` when the region has an `asyncCreationRunner` (then `false`
   * on the region is a `ValidationError`).
   */
  backgroundRefresh?: boolean;
  /**
   * Probabilistic early refresh (XFetch): a read of a fresh value regenerates it before it expires
   * with probability `exp(-t / (beta * delta))`, `t` being the seconds left and `delta` the seconds
   * its creator took (stored in the value's metadata as `cd`). As for a stale value, one caller
   * regenerates (in the background with `backgroundRefresh`) and the others get the current value.
   * If that refresh fails, the read still returns the current value and the error goes to
   * `dogpile:error`. Needs an expiration time. `false` turns it off; see
   * {@link EarlyRefreshOptions} for `beta`. Default: off.
   */
  earlyRefresh?: EarlyRefreshOptions | false;
}
