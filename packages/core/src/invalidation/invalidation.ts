import type { CacheBackend } from '../backend/backend.js';

/**
 * Decides which stored values a region's `invalidate()` has retired, the port of dogpile's
 * `RegionInvalidationStrategy`. Timestamps are seconds since the epoch, compared with a value's
 * `ct`. Pass your own to `configure({ regionInvalidator })`.
 *
 * A hard invalidation makes older values misses; a soft one makes them stale, so one caller
 * regenerates while the others keep getting the old value.
 */
export interface RegionInvalidationStrategy {
  /** Retire every value created before now; `hard` defaults to `true`. */
  invalidate(hard?: boolean): void | Promise<void>;
  isHardInvalidated(timestamp: number): boolean;
  isSoftInvalidated(timestamp: number): boolean;
  isInvalidated(timestamp: number): boolean;
  wasSoftInvalidated(): boolean;
  wasHardInvalidated(): boolean;
  /**
   * Optional: called by `configure()` with the region this strategy now serves, so a strategy
   * that keeps its times somewhere shared (see `BackendInvalidationStrategy`) can find the
   * backend, the region's name and its clock without being told twice.
   */
  attach?(context: InvalidationContext): void;
}

/** What a region tells its invalidation strategy in {@link RegionInvalidationStrategy.attach}. */
export interface InvalidationContext {
  /** The region itself, to tell one region from another. */
  readonly owner: object;
  /** The region's name. */
  readonly regionName: string;
  /** The region's backend, outermost proxy included, as it is at the time of the call. */
  backend(): CacheBackend;
  /** Applies the region's key mangler, as for every key the region stores. */
  mangleKey(key: string): string;
  /** The region's clock: seconds since the epoch, the unit of a value's `ct`. */
  now(): number;
}

/**
 * Keeps the invalidation time in this process's memory, as dogpile does: other processes sharing
 * the backend do not see it.
 */
export class DefaultInvalidationStrategy implements RegionInvalidationStrategy {
  #hard: boolean | null = null;
  #invalidated: number | null = null;

  /** @param now the current time in seconds since the epoch. */
  constructor(private readonly now: () => number = () => Date.now() / 1000) {}

  invalidate(hard = true): void {
    this.#hard = hard;
    this.#invalidated = this.now();
  }
  isInvalidated(timestamp: number): boolean {
    return this.#invalidated !== null && timestamp < this.#invalidated;
  }
  wasHardInvalidated(): boolean {
    return this.#hard === true;
  }
  isHardInvalidated(timestamp: number): boolean {
    return this.#hard === true && this.isInvalidated(timestamp);
  }
  wasSoftInvalidated(): boolean {
    return this.#hard === false;
  }
  isSoftInvalidated(timestamp: number): boolean {
    return this.#hard === false && this.isInvalidated(timestamp);
  }
}
