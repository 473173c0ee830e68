import { CachedValue } from '../backend/cached-value.js';
import type { Clock } from '../clock.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import type { Configured } from './configured.js';
import type { Freshness } from './freshness.js';
import type { GetOptions } from './region-options.js';
import { readExpiration } from './region-settings.js';
import { hasTags } from './tag-index.js';

/** What the plain reads (`get`, `getValueMetadata`, `getMulti`) judge values by. */
export interface PlainReadContext {
  readonly configured: Configured;
  readonly freshness: Freshness;
  /** What a returned value's `age` reads. */
  readonly clock: Clock;
}

/**
 * `getValueMetadata`: the value for `key` if usable (fresh, not invalidated by the region or a
 * tag), or any present value with `ignoreExpiration`; else `null`. Unreadable values are misses.
 */
export async function readOne<T>(
  { configured, freshness, clock }: PlainReadContext,
  key: string,
  options: GetOptions | undefined,
): Promise<CachedValue<T> | null> {
  const { store, tags, defaults } = configured;
  const mangled = store.key(key);
  // Checked before the read, so bad options are an error whether or not the key is cached.
  const expiration = readExpiration(defaults, options, 'getValueMetadata');
  const ignore = options?.ignoreExpiration === true;
  let value: CachedValue | NoValue;
  try {
    value = await store.read(mangled);
    if (!ignore && hasTags(value)) value = await tags.check(value);
  } catch (error) {
    value = store.failedRead(error, key, false);
  }
  if (value === NO_VALUE || value == null) return null;
  if (!ignore && !freshness.usable(value, expiration)) return null;
  // Its `age` reads the region's clock, as every freshness decision does.
  const found = value as CachedValue;
  return new CachedValue(found.payload as T, found.metadata, clock);
}

/** `getMulti`: each key's payload where {@link readOne} would give a value, else `NO_VALUE`. */
export async function readMany<T>(
  { configured, freshness }: PlainReadContext,
  keys: readonly string[],
  options: GetOptions | undefined,
): Promise<Array<T | NoValue>> {
  const { store, tags, defaults } = configured;
  const mangled = keys.map((key) => store.key(key));
  const expiration = readExpiration(defaults, options, 'getMulti');
  if (keys.length === 0) return [];
  const ignore = options?.ignoreExpiration === true;
  const read = await store.readMulti(mangled);
  const values = ignore ? read : await tags.checkAll(read);
  return values.map((value) =>
    value !== NO_VALUE && value != null && (ignore || freshness.usable(value, expiration))
      ? ((value as CachedValue).payload as T)
      : NO_VALUE,
  );
}
