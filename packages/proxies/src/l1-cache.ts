/** What L1 holds for a key: the value as the region handles it, and when it stops being served. */
export interface L1Entry<V> {
  readonly value: V;
  /** `performance.now()` after which the entry is not served. */
  readonly until: number;
  /** When it was last put at the young end (an insertion counter). */
  stamp: number;
}

/**
 * A bounded map, least recently used out first, with a hit path of one `Map.get`: a hit moves an
 * entry to the young end only when it has drifted into the older half, so hot keys are moved
 * once per `max / 2` insertions rather than on every read. What is evicted is always among the
 * least recently used half: close to a strict LRU, at the cost of a plain map read.
 */
export class L1Cache<V> {
  readonly #map = new Map<string, L1Entry<V>>();
  readonly #max: number;
  readonly #half: number;
  #clock = 0;

  constructor(max: number) {
    this.#max = max;
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.#map.size;
  }

  /** The entry for `key`, counted as used. */
  get(key: string): L1Entry<V> | undefined {
    const entry = this.#map.get(key);
    if (entry !== undefined && this.#clock - entry.stamp >= this.#half) {
      this.#map.delete(key);
      entry.stamp = ++this.#clock;
      this.#map.set(key, entry);
    }
    return entry;
  }

  set(key: string, value: V, until: number): void {
    const map = this.#map;
    map.delete(key);
    map.set(key, { value, until, stamp: ++this.#clock });
    if (map.size > this.#max) map.delete(map.keys().next().value!);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
