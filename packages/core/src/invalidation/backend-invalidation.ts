import type { CacheBackend } from '../backend/backend.js';
import { CachedValue, VALUE_VERSION } from '../backend/cached-value.js';
import { type Duration, toSeconds } from '../duration.js';
import { InvalidationNotAttachedError, ValidationError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import type { InvalidationContext, RegionInvalidationStrategy } from './invalidation.js';

/** Options of {@link BackendInvalidationStrategy}. */
export interface BackendInvalidationOptions {
  /**
   * Where the times live: `<key>:hard` and `<key>:soft`, passed through the region's key mangler.
   * Regions that share a backend and a name also share their invalidation; give each region a
   * distinct name, or a distinct key here. Default: `'_dogpile_invalidation:' + region name`.
   */
  key?: string;
  /**
   * How long this process trusts its copy of the times before it reads them again, in seconds
   * or a duration string (`'500ms'`). Another process's `invalidate()` takes effect here within
   * about this long. `0` re-reads at every check (still in the background, see the class).
   * Default: `1` (one second).
   */
  cacheTime?: Duration;
  /**
   * The backend that holds the times. Default: the region's (with its proxies), found when the
   * region is configured with this strategy.
   */
  backend?: CacheBackend;
}

const DEFAULT_CACHE_TIME = 1;

/**
 * An invalidation strategy that keeps the hard and soft invalidation times in the backend, so
 * that `region.invalidate()` in one process retires the values in every process sharing the
 * backend. dogpile's default strategy keeps the time in memory, for one process only.
 *
 * Hits must not pay a backend read, so each process keeps a copy of the two times, trusted for
 * `cacheTime`. The checks the region makes on every read stay synchronous and answer from the
 * copy; the first check after the copy grew older than `cacheTime` starts one background read
 * of the times (at most one at a time, and at most one per `cacheTime` even while the backend
 * fails: each failure goes to the `dogpile:error` channel and the old copy stays in use). So an
 * invalidation made elsewhere is seen here after at most `cacheTime` plus one backend read, once
 * this process is busy; a process that was idle serves from its old copy until the read it
 * starts comes back. The process that calls `invalidate()` updates its copy at once. The first
 * read starts when the region is configured; `await strategy.refresh()` waits for fresh times.
 *
 * The times are wall-clock seconds, compared with the `ct` of values other processes wrote, so
 * the hosts' clocks must agree to within the precision you need. Hard and soft times are kept
 * apart: a soft invalidation after a hard one leaves the values older than the hard one misses
 * (dogpile's default strategy would make them stale). Make sure the backend does not evict the
 * two keys early (an LRU bound): a lost time un-invalidates. An expiry the backend applies to all
 * keys is harmless, since every value the time retires was written before it and expires first.
 *
 * @example
 * const region = makeRegion({ name: 'users' }).configure(new RedisBackend({ url }), {
 *   expirationTime: '10m',
 *   regionInvalidator: new BackendInvalidationStrategy({ cacheTime: '500ms' }),
 * });
 * await region.invalidate(); // every process sharing this Redis drops its users within ~0.5 s
 */
export class BackendInvalidationStrategy implements RegionInvalidationStrategy {
  readonly #cacheTime: number;
  readonly #ownKey: string | undefined;
  readonly #ownBackend: CacheBackend | undefined;
  #context: InvalidationContext | undefined;
  #hardKey: string;
  #softKey: string;
  #attachedTo: CacheBackend | undefined;
  /** Seconds since the epoch, or `null` when never invalidated. */
  #hard: number | null = null;
  #soft: number | null = null;
  /** When the copy was last read (or a read was last tried), by `#now()`. */
  #checkedAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;
  /** Bumped by `attach`, so a read of the old backend cannot land in the new copy. */
  #generation = 0;

  /**
   * @param options.key where the times live in the backend. Default: from the region's name.
   * @param options.cacheTime seconds (or a duration) a process trusts its copy. Default: `1`.
   * @param options.backend the backend holding the times. Default: the region's.
   */
  constructor(options: BackendInvalidationOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new ValidationError(
        'BackendInvalidationStrategy takes an options object such as { cacheTime: 1 }.',
      );
    }
    const cacheTime =
      options.cacheTime === undefined
        ? DEFAULT_CACHE_TIME
        : toSeconds(options.cacheTime, 'cacheTime');
    if (cacheTime === -1) {
      throw new ValidationError(
        'cacheTime must be a number of seconds (1 is usual); -1 would never re-read the times, so other processes would never be seen.',
      );
    }
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key === '')) {
      throw new ValidationError('key must be a non-empty string.');
    }
    if (
      options.backend !== undefined &&
      (options.backend === null || typeof options.backend.getMulti !== 'function')
    ) {
      throw new ValidationError('backend must be a CacheBackend instance.');
    }
    this.#cacheTime = cacheTime;
    this.#ownKey = options.key;
    this.#ownBackend = options.backend;
    // Used as they are only without a region (with `backend`); `attach` names and mangles them.
    this.#hardKey = `${options.key ?? '_dogpile_invalidation:default'}:hard`;
    this.#softKey = `${options.key ?? '_dogpile_invalidation:default'}:soft`;
  }

  /** Called by the region's `configure()`; starts the first read of the times. */
  attach(context: InvalidationContext): void {
    if (this.#context !== undefined && this.#context.owner !== context.owner) {
      throw new ValidationError(
        `This BackendInvalidationStrategy already serves region ${this.#context.regionName}; give region ${context.regionName} its own.`,
      );
    }
    this.#context = context;
    const key = this.#ownKey ?? `_dogpile_invalidation:${context.regionName}`;
    this.#hardKey = context.mangleKey(`${key}:hard`);
    this.#softKey = context.mangleKey(`${key}:soft`);
    const backend = this.#backend();
    if (backend !== this.#attachedTo) {
      // A new backend is a new source of truth: forget what the old one said.
      this.#attachedTo = backend;
      this.#generation++;
      this.#hard = null;
      this.#soft = null;
      this.#reading = undefined;
      this.#checkedAt = Number.NEGATIVE_INFINITY;
    }
    this.#check();
  }

  #now(): number {
    return this.#context === undefined ? Date.now() / 1000 : this.#context.now();
  }

  #backend(): CacheBackend {
    if (this.#ownBackend !== undefined) return this.#ownBackend;
    if (this.#context === undefined) {
      throw new InvalidationNotAttachedError();
    }
    return this.#context.backend();
  }

  /** Starts a background read of the times when the copy is older than `cacheTime`. */
  #check(): void {
    if (this.#reading !== undefined) return;
    if (this.#context === undefined && this.#ownBackend === undefined) return;
    if (this.#now() - this.#checkedAt < this.#cacheTime) return;
    void this.refresh();
  }

  /**
   * Reads the times from the backend now (or joins the read in flight) and resolves once the
   * copy holds them. A failed read is reported on the `dogpile:error` channel rather than thrown,
   * and the old copy stays in use.
   */
  refresh(): Promise<void> {
    if (this.#reading !== undefined) return this.#reading;
    const generation = this.#generation;
    // Counted from the start of the read: the copy is no newer than that.
    this.#checkedAt = this.#now();
    const reading = this.#read(generation).finally(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    this.#reading = reading;
    return reading;
  }

  async #read(generation: number): Promise<void> {
    let values: Array<CachedValue | NoValue>;
    try {
      values = await this.#backend().getMulti([this.#hardKey, this.#softKey]);
    } catch (error) {
      reportError({
        operation: 'invalidationRead',
        region: this.#context?.regionName,
        key: this.#hardKey,
        error,
      });
      return;
    }
    if (generation !== this.#generation) return;
    // Never move a time back: a read that started before this process's own invalidate() may
    // come back after it, with the older time.
    this.#hard = later(this.#hard, this.#timeIn(values[0], this.#hardKey));
    this.#soft = later(this.#soft, this.#timeIn(values[1], this.#softKey));
  }

  #timeIn(value: CachedValue | NoValue | undefined, key: string): number | null {
    if (value === undefined || value === NO_VALUE) return null;
    const time = (value as CachedValue).payload;
    if (typeof time === 'number' && Number.isFinite(time)) return time;
    reportError({
      operation: 'invalidationRead',
      region: this.#context?.regionName,
      key,
      error: new ValidationError(
        `The invalidation time stored under "${key}" is not a number; it is ignored. Delete the key, or call invalidate() again to overwrite it.`,
      ),
    });
    return null;
  }

  /**
   * Retires every value created before now, in every process: the time is stored in the
   * backend (a failed write rejects, as nothing was invalidated elsewhere) and this process's
   * copy is updated at once.
   */
  async invalidate(hard = true): Promise<void> {
    const backend = this.#backend();
    const now = this.#now();
    if (hard) this.#hard = later(this.#hard, now);
    else this.#soft = later(this.#soft, now);
    await backend.set(
      hard ? this.#hardKey : this.#softKey,
      new CachedValue(now, { ct: now, v: VALUE_VERSION }),
    );
  }

  isHardInvalidated(timestamp: number): boolean {
    this.#check();
    return this.#hard !== null && timestamp < this.#hard;
  }

  isSoftInvalidated(timestamp: number): boolean {
    this.#check();
    return (
      this.#soft !== null &&
      timestamp < this.#soft &&
      !(this.#hard !== null && timestamp < this.#hard)
    );
  }

  isInvalidated(timestamp: number): boolean {
    this.#check();
    return (
      (this.#hard !== null && timestamp < this.#hard) ||
      (this.#soft !== null && timestamp < this.#soft)
    );
  }

  /** Whether the latest invalidation was hard. */
  wasHardInvalidated(): boolean {
    this.#check();
    return this.#hard !== null && (this.#soft === null || this.#hard >= this.#soft);
  }

  /** Whether the latest invalidation was soft. */
  wasSoftInvalidated(): boolean {
    this.#check();
    return this.#soft !== null && (this.#hard === null || this.#soft > this.#hard);
  }

  /** The hard and soft invalidation times this process uses now (seconds; `null`: none). */
  get times(): { hard: number | null; soft: number | null } {
    return { hard: this.#hard, soft: this.#soft };
  }
}

function later(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
