import { ValidationError } from '../errors.js';

/**
 * Checks that `key` can be a cache key: a string, and a well-formed one. A string with a lone
 * surrogate (`'x\uD800'`) has no UTF-8 form: a store encodes it as U+FFFD, so it would share its
 * value with `'x\uDBFF'` and `'x\uFFFD'`, and so would a hash of it. The region checks every key
 * at every entry point; a backend that may be called directly can check too.
 *
 * @example
 * validateKey(`user:${id}`); // the key itself
 * validateKey(1);           // ValidationError: keys are strings
 */
export function validateKey(key: unknown): string {
  // Every call of the region passes here: the check is kept small enough to be inlined.
  if (typeof key === 'string' && key.isWellFormed()) return key;
  throw invalidKey(key);
}

/**
 * The first half of {@link validateKey}: that `key` is a string. For a read that may skip the
 * second half (see `RegionStore.readKey`); whatever follows a miss checks the whole.
 */
export function validateKeyType(key: unknown): string {
  if (typeof key === 'string') return key;
  throw invalidKey(key);
}

function invalidKey(key: unknown): ValidationError {
  if (typeof key !== 'string') {
    return new ValidationError(
      `Cache keys are strings; got ${key === null ? 'null' : Array.isArray(key) ? 'an array' : typeof key}. ` +
        'Build the string yourself (for example "user:" + id), so two different values never share a key.',
    );
  }
  return new ValidationError(
    `The cache key ${JSON.stringify(key)} is not a well-formed Unicode string: it has a lone surrogate, which a store would keep as U+FFFD, sharing its value with other keys. Fix the string (key.toWellFormed()) or encode it yourself.`,
  );
}
