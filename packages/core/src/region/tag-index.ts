import { CachedValue, type CacheMetadata, VALUE_VERSION } from '../backend/cached-value.js';
import { type Clock, coarseNow, systemClock } from '../clock.js';
import { type Duration, toSeconds } from '../duration.js';
import { ValidationError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import { validateKey } from '../keys/key-validation.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { STALE_BY_TAG } from './freshness.js';

/** The most tags one value may carry: each costs a lookup on every hit. */
export const MAX_TAGS = 64;

/** How many tags' times are kept before the out-of-date ones are swept. */
const SWEEP_AT = 10_000;

/** What the index needs from the region's store. */
export interface TagRecords {
  key(key: string): string;
  readMulti(mangled: readonly string[]): Promise<Array<CachedValue | NoValue>>;
  writeMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void>;
}

/** One tag's invalidation times (seconds since the epoch, 0 for never) and until when they hold. */
interface TagTimes {
  hard: number;
  soft: number;
  /** Clock milliseconds after which they are read again. */
  until: number;
}

/** Whether a stored value carries tags (`tg` in its metadata). */
export function hasTags(value: CachedValue | NoValue): value is CachedValue {
  return value !== NO_VALUE && value != null && (value as CachedValue).metadata?.tg !== undefined;
}

/** `tags` as a caller gave them: an array of at most {@link MAX_TAGS} well-formed, non-empty strings. */
export function parseTags(tags: unknown, what: string): readonly string[] {
  if (!Array.isArray(tags)) {
    throw new ValidationError(
      `${what} takes an array of tag strings, such as ['user:7']; got ${typeof tags}.`,
    );
  }
  if (tags.length > MAX_TAGS) {
    throw new ValidationError(`${what}: at most ${MAX_TAGS} tags per value; got ${tags.length}.`);
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag === '') {
      throw new ValidationError(
        `${what}: each tag is a non-empty string, such as 'user:7'; got ${tag === '' ? 'an empty string' : typeof tag}.`,
      );
    }
    // The same rule as keys: a lone surrogate would be stored as U+FFFD, merging two tags.
    validateKey(tag);
  }
  return [...new Set(tags as string[])];
}

/** A copy of `value` marked stale: the stored value (a memory backend's own object) stays as it is. */
function markStale(value: CachedValue): CachedValue {
  const marked = { ...value.metadata, [STALE_BY_TAG]: true } as CacheMetadata;
  return new CachedValue(value.payload, marked);
}

/** `tagCacheTime` in milliseconds: seconds or a duration string, `0` for no copy. Default 1 s. */
export function parseTagCacheTime(value: unknown): number {
  if (value === undefined) return 1000;
  const seconds = toSeconds(value as Duration, 'tagCacheTime');
  if (seconds < 0) {
    throw new ValidationError(
      `tagCacheTime must be 0 or more seconds (1 is the default; 0 reads the tags on every hit); got ${String(value)}.`,
    );
  }
  return seconds * 1000;
}

/** The call's tags and the creator's, once each; at most {@link MAX_TAGS}. */
export function joinTags(call: readonly string[], creator: readonly string[]): readonly string[] {
  return parseTags([...call, ...creator], 'tags and setTags together');
}

/**
 * Tag invalidation times, kept in the backend so that an invalidation in one process holds in all
 * of them: each tag has two records, `_dogpile_tag:<tag>:hard` and `:soft` (keys mangled as the
 * region's), whose payload is the time of the tag's last invalidation. This process keeps a copy
 * of each tag's times for `cacheMs`: a hit on a tagged value reads the backend at most once per
 * tag per `cacheMs` (concurrent callers share the read), and otherwise only looks in a map.
 * An invalidation here updates the copy at once; one in another process is seen within `cacheMs`.
 */
export class TagIndex {
  readonly #records: TagRecords;
  readonly #clock: Clock;
  readonly #cacheMs: number;
  /** Seconds since the epoch, the unit of a value's `ct`. */
  readonly #now: () => number;
  readonly #region: string;
  readonly #times = new Map<string, TagTimes>();
  readonly #reading = new Map<string, Promise<void>>();

  constructor(options: {
    records: TagRecords;
    clock: Clock;
    cacheMs: number;
    now: () => number;
    region: string;
  }) {
    this.#records = options.records;
    this.#clock = options.clock;
    this.#cacheMs = options.cacheMs;
    this.#now = options.now;
    this.#region = options.region;
  }

  /**
   * `value` as its tags leave it: `NO_VALUE` when one was hard-invalidated after the value was
   * created, the value marked stale when one was soft-invalidated, else the value itself. Answers
   * at once when this process's copy of every tag's times is current.
   */
  check(value: CachedValue): CachedValue | NoValue | Promise<CachedValue | NoValue> {
    const tags = value.metadata.tg;
    // Not something this library wrote: a foreign field of that name carries no tags.
    if (!Array.isArray(tags) || tags.length === 0) return value;
    const now = this.#clock === systemClock ? coarseNow() : this.#clock.now();
    const ct = value.metadata.ct;
    let stale = false;
    let missing: string[] | undefined;
    for (const tag of tags) {
      if (typeof tag !== 'string') continue;
      const times = this.#times.get(tag);
      if (times === undefined || times.until <= now) {
        if (missing === undefined) missing = [tag];
        else missing.push(tag);
      } else if (ct < times.hard) return NO_VALUE;
      else if (ct < times.soft) stale = true;
    }
    if (missing !== undefined) return this.#load(missing).then(() => this.#verdict(value, tags));
    return stale ? markStale(value) : value;
  }

  /** {@link check} over a batch; the array itself when nothing in it carries tags. */
  async checkAll(values: Array<CachedValue | NoValue>): Promise<Array<CachedValue | NoValue>> {
    if (!values.some(hasTags)) return values;
    return Promise.all(values.map((value) => (hasTags(value) ? this.check(value) : value)));
  }

  /**
   * Records an invalidation of `tags` now: hard (values carrying one become misses) or soft
   * (they become stale). Written to the backend, then applied to this process's copy.
   */
  async invalidate(tags: readonly string[], hard: boolean): Promise<void> {
    if (tags.length === 0) return;
    const at = this.#now();
    const kind = hard ? 'hard' : 'soft';
    const metadata: CacheMetadata = { ct: at, v: VALUE_VERSION };
    const mapping = new Map<string, CachedValue>();
    for (const tag of tags) mapping.set(this.#key(tag, kind), new CachedValue(at, metadata));
    await this.#records.writeMulti(mapping);
    for (const tag of tags) {
      // Without a copy the other kind's time is unknown: this one is then a floor for the read
      // that must come first (`until` 0), which may have begun before the write.
      const times = this.#times.get(tag) ?? this.#remember(tag, { hard: 0, soft: 0, until: 0 });
      times[kind] = Math.max(times[kind], at);
    }
  }

  #verdict(value: CachedValue, tags: readonly unknown[]): CachedValue | NoValue {
    const ct = value.metadata.ct;
    let stale = false;
    for (const tag of tags) {
      const times = typeof tag === 'string' ? this.#times.get(tag) : undefined;
      if (times === undefined) continue;
      if (ct < times.hard) return NO_VALUE;
      if (ct < times.soft) stale = true;
    }
    return stale ? markStale(value) : value;
  }

  /** Reads the times of `tags` (joining reads already in flight); a failed read rejects. */
  async #load(tags: readonly string[]): Promise<void> {
    const pending: Promise<void>[] = [];
    const toRead: string[] = [];
    for (const tag of tags) {
      const reading = this.#reading.get(tag);
      if (reading !== undefined) pending.push(reading);
      else toRead.push(tag);
    }
    if (toRead.length > 0) {
      const read = this.#read(toRead).finally(() => {
        for (const tag of toRead) if (this.#reading.get(tag) === read) this.#reading.delete(tag);
      });
      for (const tag of toRead) this.#reading.set(tag, read);
      pending.push(read);
    }
    await Promise.all(pending);
  }

  async #read(tags: readonly string[]): Promise<void> {
    // Counted from the start of the read: the copy is no newer than that.
    // With no copy kept (0), every check reads: a coarse clock reading must not find it current.
    const until = this.#cacheMs === 0 ? 0 : this.#clock.now() + this.#cacheMs;
    const keys = tags.flatMap((tag) => [this.#key(tag, 'hard'), this.#key(tag, 'soft')]);
    const values = await this.#records.readMulti(keys);
    tags.forEach((tag, i) => {
      const hard = this.#timeIn(values[2 * i]!, keys[2 * i]!);
      const soft = this.#timeIn(values[2 * i + 1]!, keys[2 * i + 1]!);
      const known = this.#times.get(tag);
      // Never move a time back: this process may have invalidated the tag during the read.
      this.#remember(tag, {
        hard: Math.max(hard, known?.hard ?? 0),
        soft: Math.max(soft, known?.soft ?? 0),
        until,
      });
    });
  }

  /** Keeps `times` for `tag`; past {@link SWEEP_AT} tags, first forgets those out of date. */
  #remember(tag: string, times: TagTimes): TagTimes {
    if (this.#times.size >= SWEEP_AT && !this.#times.has(tag)) {
      const now = this.#clock.now();
      for (const [known, entry] of this.#times) if (entry.until <= now) this.#times.delete(known);
    }
    this.#times.set(tag, times);
    return times;
  }

  #timeIn(value: CachedValue | NoValue, key: string): number {
    if (value === NO_VALUE) return 0;
    const time = (value as CachedValue).payload;
    if (typeof time === 'number' && Number.isFinite(time)) return time;
    reportError({
      operation: 'tagRead',
      region: this.#region,
      key,
      error: new ValidationError(
        `The tag record ${key} does not hold an invalidation time; it is ignored. Delete it, or invalidate the tag again.`,
      ),
    });
    return 0;
  }

  #key(tag: string, kind: 'hard' | 'soft'): string {
    return this.#records.key(`_dogpile_tag:${tag}:${kind}`);
  }
}
