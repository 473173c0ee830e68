/**
 * What every contender is given, so that only the library differs: the same value, the same
 * time to live, the same keys. A small JSON-friendly record, the typical cached row.
 */
export const VALUE = {
  id: 42,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  roles: ['admin', 'author'],
};

/** One hour, in each library's own unit; long enough that nothing expires during a run. */
export const TTL_SECONDS = 3600;
export const TTL_MS = TTL_SECONDS * 1000;

/** The hit-path cases cycle over this many warm keys (a power of two: the index is masked). */
export const HOT_KEYS = 1024;

/** `count` keys under `prefix`, so contenders sharing a server never read each other's entries. */
export function makeKeys(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:user:${i}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A creator for the hit path: it must never run, and failing loudly proves it did not. */
export function neverCalled(): Promise<never> {
  return Promise.reject(new Error('a hit must not run the creator'));
}
