import { createHash } from 'node:crypto';

/** The file name @dogpile/file gives a key (documented in its README): SHA-256 hex of its UTF-8. */
export function hashName(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What the parent passes a file-stampede child (argv[2], as JSON). */
export interface FileChildArgs {
  directory: string;
  callers: number;
}

/** One request line: a burst on this cold key with this contender. */
export interface FileBurstRequest {
  contender: string;
  key: string;
  creatorMs: number;
}

/** The file contenders, in table order. */
export const FILE_CONTENDERS = [
  { id: 'file-watch', name: 'dogpile FileBackend (lockWatch on)' },
  { id: 'file-poll', name: 'dogpile FileBackend (lockWatch off: polling)' },
  { id: 'bento-file', name: 'bentocache getOrSet (file driver)' },
] as const;

/** How much the file cases measure, beside SETTINGS (which they share the stampede sizes of). */
export const FILE_HIT_SETTINGS = {
  full: { iterations: 20_000, rounds: 9 },
  quick: { iterations: 2_000, rounds: 3 },
} as const;
