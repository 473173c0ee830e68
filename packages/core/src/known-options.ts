import { ValidationError } from './errors.js';

/**
 * Throws a {@link ValidationError} when `options` is not an object (or `undefined`), or names an
 * option not in `known`, listing the known ones, so a typo (`{ max: 10 }` for `maxEntries`) never
 * passes silently. For backends, ours and third parties': every constructor should call it.
 *
 * @example
 * rejectUnknownOptions(options, ['directory', 'lockTimeout'], 'FileBackend');
 * // ValidationError: FileBackend has no option "dir". Known options: directory, lockTimeout.
 *
 * @param hints for a name that belongs elsewhere, where it belongs (`{ expirationTime: 'configure()' }`).
 */
export function rejectUnknownOptions(
  options: unknown,
  known: readonly string[],
  where: string,
  hints: Readonly<Record<string, string>> = {},
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(
      `${where} takes an options object; got ${options === null ? 'null' : typeof options}.`,
    );
  }
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const hint = Object.hasOwn(hints, name) ? ` It belongs to ${hints[name]}.` : '';
    throw new ValidationError(
      `${where} has no option "${name}".${hint} Known options: ${known.join(', ')}.`,
    );
  }
}
