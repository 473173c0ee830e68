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
  if (typeof key !== 'string') {
    throw new ValidationError(
      `Cache keys are strings; got ${key === null ? 'null' : Array.isArray(key) ? 'an array' : typeof key}. ` +
        'Build the string yourself (for example "user:" + id), so two different values never share a key.',
    );
  }
  if (!key.isWellFormed()) {
    throw new ValidationError(
      `The cache key ${JSON.stringify(key)} is not a well-formed Unicode string: it has a lone surrogate, which a store would keep as U+FFFD, sharing its value with other keys. Fix the string (key.toWellFormed()) or encode it yourself.`,
    );
  }
  return key;
}
