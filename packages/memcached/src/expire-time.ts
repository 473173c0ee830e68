/** Memcached reads an expiry above 30 days as an absolute Unix time, not a number of seconds. */
export const RELATIVE_LIMIT_SECONDS = 60 * 60 * 24 * 30;

/**
 * The exptime field for an entry that should live `seconds` (whole seconds, more than 0):
 * the number itself up to 30 days, and beyond that the Unix time `seconds` from now, which is
 * how Memcached must be told (a bare number over 30 days would be read as a date in 1970, and
 * the entry would expire at once).
 */
export function exptime(seconds: number, nowMs: number = Date.now()): number {
  if (seconds <= RELATIVE_LIMIT_SECONDS) return seconds;
  return Math.floor(nowMs / 1000) + seconds;
}
