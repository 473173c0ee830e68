/** A creator's error, remembered until `until` (milliseconds by the region's clock). */
interface CachedError {
  readonly error: unknown;
  readonly until: number;
}

/** Past this many remembered keys, expired ones are swept on the next failure. */
const SWEEP_AT = 10_000;

/**
 * The errors of failed creators, per (mangled) key, for `cacheErrorsFor`: while one is
 * remembered, callers of that key get it instead of running the creator again. In this process
 * only; a write or delete of the key through the region forgets it.
 */
export class ErrorCache {
  readonly #errors = new Map<string, CachedError>();

  remember(key: string, error: unknown, now: number, forMs: number): void {
    if (this.#errors.size >= SWEEP_AT) {
      for (const [k, entry] of this.#errors) if (entry.until <= now) this.#errors.delete(k);
    }
    this.#errors.set(key, { error, until: now + forMs });
  }

  /** The error remembered for `key` and how long it still holds, or `undefined`. */
  recall(key: string, now: number): { error: unknown; leftMs: number } | undefined {
    if (this.#errors.size === 0) return undefined;
    const entry = this.#errors.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#errors.delete(key);
      return undefined;
    }
    return { error: entry.error, leftMs: entry.until - now };
  }

  forget(key: string): void {
    if (this.#errors.size !== 0) this.#errors.delete(key);
  }
}
