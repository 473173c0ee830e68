import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';

/** Turns one function argument into its part of a cache key. */
export type ToStr = (arg: unknown) => string;

/** Options shared by the key generators. */
export interface KeyGeneratorOptions {
  /** Turns each argument into a key part. Default: {@link argToKeyPart}. */
  toStr?: ToStr;
}

/** Builds the key function for `cacheOnArguments`, given its namespace and the decorated function. */
export type FunctionKeyGenerator = (
  namespace: string | undefined,
  fn: Function,
  options?: KeyGeneratorOptions,
) => (...args: unknown[]) => string;

/** Builds the per-argument key function for `cacheMultiOnArguments`. */
export type FunctionMultiKeyGenerator = (
  namespace: string | undefined,
  fn: Function,
  options?: KeyGeneratorOptions,
) => (...args: unknown[]) => string[];

// Strings that could also be the rendering of another type (a Date renders as `Date(...)`), or
// contain the separator.
const BARE_STRING = /^[^\s"]+$/;
const LOOKS_TYPED = /^(?:-?(?:\d|\.\d|Infinity)|NaN$|true$|false$|null$|undefined$|[[{]|Date\()/;

function isPlainData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

function canonicalJson(value: unknown, seen: Set<object>): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value);
  }
  if (typeof value === 'object' && isPlainData(value)) {
    if (seen.has(value)) throw new ValidationError('A cache key argument contains a cycle.');
    seen.add(value);
    const out = Array.isArray(value)
      ? `[${value.map((item) => canonicalJson(item, seen)).join(',')}]`
      : `{${Object.keys(value)
          .sort()
          .map(
            (k) =>
              `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], seen)}`,
          )
          .join(',')}}`;
    seen.delete(value);
    return out;
  }
  throw new ValidationError(
    `Cannot build a cache key from a ${value === undefined ? 'undefined' : typeof value === 'object' ? ((value as object).constructor?.name ?? 'object') : typeof value} inside an object argument. Pass toStr or a key generator to cacheOnArguments().`,
  );
}

/**
 * The default rendering of one argument into a key part. It never lets two different arguments
 * share a rendering:
 * - a string without spaces or quotes that could not be mistaken for another type is kept as is
 *   (`'alice'` → `alice`); other strings are JSON-quoted (`'1'` → `"1"`, `'a b'` → `"a b"`);
 * - numbers, booleans, `null`, `undefined` as `String()` gives them; a bigint gets an `n` (`10n`);
 * - a `Date` as `Date(<ISO time>)`;
 * - plain objects and arrays as canonical JSON (keys sorted), so `{a:1,b:2}` and `{b:2,a:1}` share a key;
 * - a class instance with its own `toString` as that string, JSON-quoted;
 * - anything else (functions, symbols, Maps, Sets, instances without `toString`) throws a
 *   {@link ValidationError}: pass `toStr` or a key generator instead.
 */
export function argToKeyPart(arg: unknown): string {
  switch (typeof arg) {
    case 'string':
      return BARE_STRING.test(arg) && !LOOKS_TYPED.test(arg) ? arg : JSON.stringify(arg);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(arg);
    case 'bigint':
      return `${arg}n`;
    case 'object': {
      if (arg === null) return 'null';
      if (arg instanceof Date)
        return `Date(${Number.isNaN(arg.getTime()) ? 'Invalid' : arg.toISOString()})`;
      if (isPlainData(arg)) return canonicalJson(arg, new Set());
      if (typeof arg.toString === 'function' && arg.toString !== Object.prototype.toString) {
        return JSON.stringify(String(arg));
      }
      throw new ValidationError(
        `Cannot build a cache key from a ${arg.constructor?.name ?? 'object'} argument: it has no toString of its own. ` +
          'Pass toStr, or a functionKeyGenerator, to cacheOnArguments().',
      );
    }
    default:
      throw new ValidationError(
        `Cannot build a cache key from a ${typeof arg} argument. Pass toStr, or a functionKeyGenerator, to cacheOnArguments().`,
      );
  }
}

function namespaceOf(namespace: string | undefined, fn: Function): string {
  const ns = namespace ?? fn.name;
  if (!ns) {
    throw new ValidationError(
      'cacheOnArguments() needs a namespace for an anonymous function: pass { namespace: "..." } or give the function a name.',
    );
  }
  return ns;
}

/**
 * dogpile's default key generator: `namespace|arg1 arg2 ...`, the namespace defaulting to the
 * function's name.
 */
export const functionKeyGenerator: FunctionKeyGenerator = (namespace, fn, options = {}) => {
  const prefix = `${namespaceOf(namespace, fn)}|`;
  const toStr = options.toStr ?? argToKeyPart;
  return (...args) => {
    if (args.length === 1) return prefix + toStr(args[0]);
    return prefix + args.map(toStr).join(' ');
  };
};

/** The multi-key form: one key `namespace|arg` per argument. */
export const functionMultiKeyGenerator: FunctionMultiKeyGenerator = (
  namespace,
  fn,
  options = {},
) => {
  const prefix = `${namespaceOf(namespace, fn)}|`;
  const toStr = options.toStr ?? argToKeyPart;
  return (...args) => args.map((arg) => prefix + toStr(arg));
};

/** A key mangler that replaces each key by its SHA-1 hex digest (dogpile's `sha1_mangle_key`). */
export function sha1MangleKey(key: string): string {
  return createHash('sha1').update(key, 'utf8').digest('hex');
}

/**
 * A key mangler that applies `mangler` only to keys longer than `length` characters (dogpile's
 * `length_conditional_mangler`), e.g. `lengthConditionalMangler(250, sha1MangleKey)` for Memcached.
 */
export function lengthConditionalMangler(
  length: number,
  mangler: (key: string) => string,
): (key: string) => string {
  // dogpile mangles at `len(key) >= length`: a key of exactly `length` is mangled too.
  return (key) => (key.length >= length ? mangler(key) : key);
}
