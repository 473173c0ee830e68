import type { CacheBackend } from '../backend/backend.js';
import { ProxyBackend } from '../backend/proxy-backend.js';
import type { Clock } from '../clock.js';
import { reportError } from '../instrumentation.js';
import type { KeyedLocks } from '../lock/keyed-locks.js';
import type { RandomSource } from '../random.js';
import type { BackgroundRefresher } from './background-refresh.js';
import type { Creation } from './creation.js';
import type { ErrorCache } from './error-cache.js';
import type { FlowContext } from './flow-context.js';
import type { Freshness } from './freshness.js';
import type { Handoffs } from './handoff.js';
import { ReadThrough } from './read-through.js';
import type { CachingRegion } from './region-options.js';
import { type CallSettings, type RegionSettings, regionCallSettings } from './region-settings.js';
import { RegionStore } from './region-store.js';
import { TagIndex } from './tag-index.js';

/** What `configure` sets up; replaced as a whole by the next `configure` or `wrap`. */
export interface Configured {
  readonly store: RegionStore;
  readonly tags: TagIndex;
  /** Every call's settings when it passes no options. */
  readonly defaults: CallSettings;
  readonly flow: FlowContext;
  /** `getOrCreate` up to its miss. */
  readonly reads: ReadThrough;
}

/** What a region keeps for its whole life, whatever backend it is given. */
export interface RegionParts {
  readonly region: CachingRegion & { readonly name: string };
  readonly clock: Clock;
  readonly freshness: Freshness;
  readonly locks: KeyedLocks;
  readonly handoffs: Handoffs;
  readonly background: BackgroundRefresher;
  readonly creations: Set<Creation<unknown>>;
  readonly errors: ErrorCache;
  /** Early refresh's coin. */
  readonly random: RandomSource;
}

/** What {@link configure} builds from. */
export interface ConfigureInput {
  /** The outermost backend (a proxy, when wrapped). */
  readonly backend: CacheBackend;
  readonly expiration: number | null;
  readonly settings: RegionSettings;
  readonly parts: RegionParts;
  /** Whether `store` is still the region's: a background job of an old backend must not write. */
  readonly isCurrent: (store: RegionStore) => boolean;
}

/**
 * Builds the store (the one door to `backend`) and the context the miss flows run in. The key
 * mangler and serializer are the region's own, else those of the backend behind every proxy.
 */
export function configure({
  backend,
  expiration,
  settings,
  parts,
  isCurrent,
}: ConfigureInput): Configured {
  const inner = ProxyBackend.innermost(backend);
  const name = parts.region.name;
  const store = new RegionStore({
    backend,
    keyMangler: settings.keyMangler ?? inner.keyMangler,
    serializer: settings.serializer ?? inner.serializer,
    region: name,
  });
  const tags = new TagIndex({
    records: store,
    clock: parts.clock,
    cacheMs: settings.tagCacheMs,
    now: () => parts.freshness.now(),
    region: name,
  });
  const flow: FlowContext = {
    name,
    store,
    tags,
    locks: parts.locks,
    handoffs: parts.handoffs,
    freshness: parts.freshness,
    clock: parts.clock,
    asyncCreationRunner: settings.asyncCreationRunner,
    region: parts.region,
    creations: parts.creations,
    errors: parts.errors,
    background: (job, mutex, key) =>
      parts.background.start(job, mutex, (error, operation) =>
        reportError({ operation, region: name, key, error }),
      ),
    isCurrent,
  };
  const defaults = regionCallSettings(settings, expiration);
  const reads = new ReadThrough({ store, tags, defaults, flow, random: parts.random });
  return { store, tags, defaults, flow, reads };
}
