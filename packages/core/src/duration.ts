import { ValidationError } from './errors.js';

/** The units a {@link Duration} string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * A duration written with its unit (`'250ms'`, `'30s'`, `'5m'`, `'2h'`, `'1d'`), or a number of
 * seconds as a string (`'30'`, as config files give it). Typed, so `'5 min'` or `'5M'` is a
 * compile error.
 */
export type DurationString = `${number}${DurationUnit}` | `${number}`;

/**
 * A span of time: a number of **seconds** (as in dogpile.cache and the stored `ct`; `300000` is
 * 83 hours, not 5 minutes), or a {@link DurationString} with its unit. `-1` means "never".
 *
 * @example
 * makeRegion().configure(backend, { expirationTime: '5m' }); // or 300
 */
export type Duration = number | DurationString;

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const PATTERN = /^\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Converts a {@link Duration} to seconds, `-1` staying `-1`. Throws {@link ValidationError} for
 * anything else negative, not finite, or not in the format above; `what` names the option in the
 * message.
 */
export function toSeconds(value: unknown, what: string): number {
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (!match) {
      throw new ValidationError(
        `${what} must be a number of seconds or a duration string with its unit, such as '250ms', '30s', '5m', '2h', '1d'; got "${value}".`,
      );
    }
    seconds = Number(match[1]) * UNIT_SECONDS[match[2] ?? 's']!;
  } else {
    throw new ValidationError(
      `${what} must be a number of seconds or a duration string; got ${typeof value}.`,
    );
  }
  if (seconds === -1) return -1;
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new ValidationError(
      `${what} must be a non-negative number of seconds (or a string such as '5m'), or -1 for never; got ${String(value)}.`,
    );
  }
  return seconds;
}
