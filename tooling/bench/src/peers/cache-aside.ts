import type { Contender } from './contender.js';

/**
 * Plain cache-aside on a `Map` with no lock: read, on a miss create and store. The reference
 * point of a stampede: every concurrent caller that misses runs the creator.
 */
export function cacheAside(): Contender {
  const map = new Map<string, unknown>();
  return {
    name: 'no lock (cache-aside on a Map)',
    id: 'aside',
    getOrCreate: async (key, creator) => {
      const cached = map.get(key);
      if (cached !== undefined) return cached;
      const created = await creator();
      map.set(key, created);
      return created;
    },
    close: async () => map.clear(),
  };
}
