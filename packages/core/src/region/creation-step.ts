import { CachedValue } from '../backend/cached-value.js';
import { CreationAbandonedError, RegionClosedError } from '../errors.js';
import type { RegenerationReason } from '../instrumentation.js';
import { NO_VALUE, type NoValue } from '../no-value.js';
import { Creation } from './creation.js';
import type { FlowContext, MissCall } from './flow-context.js';
import { type Created, runCreator } from './regeneration.js';
import { joinTags } from './tag-index.js';

/** One run of the creator by the miss flow. */
export interface CreationStep<T> {
  readonly call: MissCall<T>;
  /** The value being replaced, given to the creator as `staleValue`. */
  readonly current: CachedValue | NoValue;
  readonly reason: RegenerationReason;
  /** A regeneration nobody waits for: `close()` lets it finish and store. */
  readonly background: boolean;
  /** The caller holds the key's lock here, so the callers waiting for it wait for this creation. */
  readonly holding: boolean;
  /** Told what the creator threw, before it is rethrown (for `staleIfError`). */
  readonly onFailure: (error: unknown) => void;
}

/** What a creation made: the value to store, and whether the creator said not to store it. */
export interface Made {
  readonly value: CachedValue;
  readonly skipped: boolean;
}

/**
 * Runs the creator with its context and wraps its result with fresh metadata. What it throws is
 * remembered for `cacheErrorsFor` (unless it was aborted: region closed, or abandoned), and a
 * success forgets an error remembered before.
 */
export async function makeValue<T>(ctx: FlowContext, step: CreationStep<T>): Promise<Made> {
  const { clock, name, freshness } = ctx;
  const { key, mangled, creator, settings } = step.call;
  const stale = freshness.isMiss(step.current) ? NO_VALUE : (step.current as CachedValue).payload;
  const creation = new Creation<T>(key, stale as T, settings.expiration);
  // The creator gets its context after its own arguments; one that takes none ignores it.
  const args = [...settings.creatorArgs, creation] as never[];
  // close() aborts the creations callers wait for; it lets background ones finish and store.
  if (!step.background) ctx.creations.add(creation as Creation<unknown>);
  const stopWatching = step.holding ? watchAbandonment(ctx, step.call, creation) : undefined;
  let created: Created<T>;
  try {
    created = await runCreator(
      async () => {
        try {
          return await creation.run(() => creator(...args), settings.hardTimeoutMs);
        } catch (error) {
          const forMs = settings.cacheErrorsForMs;
          if (forMs !== null && !isAbort(error)) {
            ctx.errors.remember(mangled, error, clock.now(), forMs);
          }
          step.onFailure(error);
          throw error;
        }
      },
      clock,
      settings.measure,
      name,
      key,
      step.reason,
      step.background,
    );
  } finally {
    ctx.creations.delete(creation as Creation<unknown>);
    stopWatching?.();
  }
  ctx.errors.forget(mangled);
  const value = new CachedValue(created.payload, freshness.metadata());
  if (settings.measure) value.metadata.cd = created.seconds;
  // Its own shorter life travels with it (`et`, ignored by Python dogpile.cache): the creation
  // time stays true, so an invalidation before it never retires it.
  if (creation.freshFor !== undefined) value.metadata.et = creation.freshFor;
  const tags = creation.tags.length === 0 ? settings.tags : joinTags(settings.tags, creation.tags);
  if (tags.length > 0) value.metadata.tg = tags;
  freshness.checkSoftInvalidation(settings.expiration);
  const shouldCacheFn = settings.shouldCacheFn;
  const skipped =
    creation.skipped || (shouldCacheFn !== undefined && !shouldCacheFn(value.payload));
  return { value, skipped };
}

/** Aborted by `close()` or abandoned: not the creator's own failure, so not remembered. */
function isAbort(error: unknown): boolean {
  return error instanceof RegionClosedError || error instanceof CreationAbandonedError;
}

/**
 * abortWhenAbandoned: aborts `creation` once the caller's signal has aborted and no caller of
 * this process waits for the key any more (waiters that abort leave at once). Returns the
 * function that stops watching.
 */
function watchAbandonment<T>(
  ctx: FlowContext,
  call: MissCall<T>,
  creation: Creation<T>,
): (() => void) | undefined {
  const { signal, abortWhenAbandoned } = call.settings;
  if (!abortWhenAbandoned || signal === undefined) return undefined;
  const check = () => {
    if (signal.aborted && ctx.locks.waiting(call.mangled) === 0) {
      creation.abort(new CreationAbandonedError(call.key));
    }
  };
  const stopLocks = ctx.locks.onAbandoned(call.mangled, check);
  signal.addEventListener('abort', check, { once: true });
  check();
  return () => {
    stopLocks();
    signal.removeEventListener('abort', check);
  };
}
