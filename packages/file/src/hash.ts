import { createHash } from 'node:crypto';

/**
 * The file name of a key or lock key: the SHA-256 of its UTF-8 bytes, as 64 lowercase hex digits.
 * Any string becomes a safe, fixed-length name (no `/`, no `..`, no case or length limits of the
 * file system), and two keys never share a file.
 */
export function hashName(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
