import { type Duration, toSeconds, ValidationError } from '@dogpile/core';

/**
 * Refuses an options object that is not a plain object or names an option `known` does not list,
 * so a misspelt option is an error rather than silently ignored.
 */
export function checkOptions(
  owner: string,
  options: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValidationError(`${owner} takes an options object; got ${describe(options)}.`);
  }
  const unknown = Object.keys(options).filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new ValidationError(
      `${owner} got unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}. Known options: ${known.join(', ')}.`,
    );
  }
  return options as Record<string, unknown>;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * A duration option (seconds as a number, or a string such as `'250ms'`) in milliseconds, more
 * than 0. `fallback` when absent.
 */
export function durationMs(
  owner: string,
  name: string,
  value: unknown,
  fallback: number | undefined,
): number {
  if (value === undefined) {
    if (fallback === undefined) throw new ValidationError(`${owner} needs the ${name} option.`);
    return fallback;
  }
  if (typeof value !== 'number' && typeof value !== 'string') {
    throw new ValidationError(
      `${owner} ${name} must be seconds (a number) or a duration string such as '250ms'; got ${describe(value)}.`,
    );
  }
  const seconds = toSeconds(value as Duration, `${owner} ${name}`);
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new ValidationError(`${owner} ${name} must be more than 0; got ${String(value)}.`);
  }
  return seconds * 1000;
}

/** A whole number option at least `min`; `fallback` when absent. */
export function integerOption(
  owner: string,
  name: string,
  value: unknown,
  min: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(
      `${owner} ${name} must be a whole number of at least ${min}; got ${String(value)}.`,
    );
  }
  return value;
}

/** A boolean option; `fallback` when absent. */
export function booleanOption(
  owner: string,
  name: string,
  value: unknown,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ValidationError(`${owner} ${name} must be true or false; got ${describe(value)}.`);
  }
  return value;
}
