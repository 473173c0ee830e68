import type { Serializer } from '@dogpile/core';

/**
 * Options of {@link MemoryBackend}.
 *
 * @example
 * new MemoryBackend();                                  // unbounded Map, objects stored by reference
 * new MemoryBackend({ maxEntries: 10_000 });            // LRU: least recently used entries evicted
 * new MemoryBackend({ serialize: true });               // stores v8-serialized copies
 * new MemoryBackend({ serialize: jsonSerializer });     // stores JSON copies
 */
export interface MemoryBackendOptions {
  /**
   * The most entries kept; past it the least recently used one is evicted (lru-cache). A positive
   * integer. Default: unbounded.
   */
  maxEntries?: number;
  /**
   * Store serialized copies instead of references, as dogpile's `memory_pickle`: callers cannot
   * change a cached object through one they were given, and every read returns a fresh copy.
   * `true` uses `v8Serializer` (Map, Set, Date, BigInt survive); or pass a `Serializer`.
   * Default: `false`.
   */
  serialize?: boolean | Serializer;
  /**
   * A `Map` to store into, to share one store between backends or inspect it in tests. Not
   * allowed with `maxEntries`. Default: a new `Map`.
   */
  cacheDict?: Map<string, unknown>;
}

/** The names {@link MemoryBackendOptions} knows; any other is rejected. */
export const MEMORY_BACKEND_OPTIONS: readonly (keyof MemoryBackendOptions)[] = [
  'maxEntries',
  'serialize',
  'cacheDict',
];
