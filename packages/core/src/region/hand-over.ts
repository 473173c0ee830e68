import type { CachedValue } from '../backend/cached-value.js';
import { RegionClosedError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import type { CacheMutex } from '../lock/mutex.js';
import type { FlowContext } from './flow-context.js';

/**
 * A regeneration the miss flow hands to the background (backgroundRefresh, an
 * asyncCreationRunner, or softTimeout): the caller is served the stale value, and this runs
 * detached, holding both locks of the key until it is done.
 */
export interface Regeneration {
  readonly key: string;
  readonly mangled: string;
  /** Runs the creator, as a background creation. */
  make(): Promise<CachedValue>;
  /** Stores the value, unless the creator (`skip()`) or `shouldCacheFn` said not to. */
  keep(value: CachedValue): Promise<void>;
}

/** Both locks of the key, held by a background regeneration that releases them when done. */
export function heldLocks(ctx: FlowContext, mangled: string, remote: CacheMutex): CacheMutex {
  return {
    acquire: () => remote.acquire(),
    release: async () => {
      try {
        await remote.release();
      } finally {
        ctx.locks.release(mangled, ctx.handoffs.settle(mangled, undefined));
      }
    },
    locked: async () => ctx.locks.isLocked(mangled) || remote.locked(),
  };
}

/** backgroundRefresh: the user's asyncCreationRunner, or the region's own, regenerates. */
export function regenerateInBackground(
  ctx: FlowContext,
  regeneration: Regeneration,
  remote: CacheMutex,
): void {
  const { key, mangled } = regeneration;
  const store = ctx.store;
  const held = heldLocks(ctx, mangled, remote);
  const runner = ctx.asyncCreationRunner;
  if (runner !== undefined) {
    const regenerate = async () => (await regeneration.make()).payload;
    const started = runner(ctx.region, key, regenerate, held);
    if (started && typeof started.then === 'function') {
      started.then(undefined, (error: unknown) =>
        reportError({ operation: 'asyncCreator', region: ctx.name, key, error }),
      );
    }
    return;
  }
  ctx.background(
    async () => {
      // A region closed or re-configured meanwhile gets no write from an old regeneration.
      if (!ctx.isCurrent(store)) return;
      await regeneration.keep(await regeneration.make());
    },
    held,
    key,
  );
}

/**
 * softTimeout: the regeneration runs in the background like the above; the caller may still get
 * its value through the returned promise, if it comes in time ({@link withinSoftTimeout}).
 */
export function regenerateForSoftTimeout(
  ctx: FlowContext,
  regeneration: Regeneration,
  remote: CacheMutex,
): Promise<CachedValue> {
  const store = ctx.store;
  let resolve!: (value: CachedValue) => void;
  let reject!: (error: unknown) => void;
  const result = new Promise<CachedValue>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that stopped waiting never looks at it; the background runner reports failures.
  result.catch(() => {});
  ctx.background(
    async () => {
      try {
        if (!ctx.isCurrent(store)) throw new RegionClosedError(ctx.name);
        const value = await regeneration.make();
        await regeneration.keep(value);
        resolve(value);
      } catch (error) {
        reject(error);
        throw error;
      }
    },
    heldLocks(ctx, regeneration.mangled, remote),
    regeneration.key,
  );
  return result;
}

/** The regeneration's value if it comes within `ms`, else `stale`. */
export async function withinSoftTimeout<T>(
  regenerated: Promise<CachedValue>,
  stale: T,
  ms: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    const value = await Promise.race([regenerated, timeout]);
    return value === undefined ? stale : (value.payload as T);
  } finally {
    clearTimeout(timer);
  }
}
