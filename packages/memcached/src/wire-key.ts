import { sha1MangleKey } from '@dogpile/core';

/** The longest key Memcached stores, in bytes. */
export const MAX_KEY_BYTES = 250;

// Memcached keys may not hold spaces or control characters (nor DEL, which some clients refuse).
// biome-ignore lint/suspicious/noControlCharactersInRegex: those are exactly what is refused.
const FORBIDDEN = /[\u0000-\u0020\u007f]/;

/**
 * The key Memcached sees for `key`: the key itself when Memcached can store it (1 to 250 UTF-8
 * bytes, no space or control character), otherwise its SHA-1 in hex (core's `sha1MangleKey`, 40
 * characters). Deterministic, so every process (and a Python process mangling with dogpile's
 * `sha1_mangle_key`) finds the same entry; never truncated, so two long keys that share their
 * first 250 bytes stay apart.
 */
export function wireKey(key: string): string {
  if (key.length > 0 && key.length <= MAX_KEY_BYTES && !FORBIDDEN.test(key)) {
    // Fast path: a string of at most 250 UTF-16 units of ASCII is at most 250 bytes.
    if (key.length * 3 <= MAX_KEY_BYTES || Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) {
      return key;
    }
  }
  return sha1MangleKey(key);
}
