import { ValidationError } from './errors.js';

/**
 * A span of time: a number of **seconds** (as in dogpile.cache and the stored `ct`), or a string
 * with a unit: `'250ms'`, `'30s'`, `'5m'`, `'2h'`, `'1d'`. `-1` means "never".
 */
export type Duration = number | string;

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const PATTERN = /^\s*(-?\d+(?:\.\d+)?|-?\.\d+)\s*(ms|s|m|h|d)?\s*$/;

/**
 * Converts a {@link Duration} to seconds, `-1` staying `-1`. Throws {@link ValidationError} for
 * anything else negative, not finite, or not in the format above; `what` names the option in the
 * message.
 */
export function toSeconds(value: Duration, what: string): number {
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (!match) {
      throw new ValidationError(
        `${what} must be seconds or a duration such as '250ms', '30s', '5m', '2h', '1d'; got "${value}".`,
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
      `${what} must be a non-negative number of seconds, or -1 for never; got ${String(value)}.`,
    );
  }
  return seconds;
}
