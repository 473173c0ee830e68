import type { CachedValue } from '../backend/cached-value.js';
import { lockWaitChannel, publishCoalesced, publishLockWait } from '../instrumentation.js';
import type { NoValue } from '../no-value.js';
import { type FlowContext, type MissCall, missCall } from './flow-context.js';
import { MissFlow } from './miss-flow.js';
import { hasTags } from './tag-index.js';

/**
 * Runs a miss: step 1 of {@link MissFlow} on its own when it is all the call needs, else the
 * whole flow. A caller that found no value while another caller of this process holds the key,
 * and that has no signal or lock wait timeout to watch, waits for the holder's release and takes
 * what it leaves (or reads once): in a burst on a cold key, the hundreds of callers that wait for
 * one creation each cost a promise, not a flow. Anything else (no value after all, a failed
 * read) goes through the whole flow, as if the caller had just arrived.
 */
export function runMiss<T>(ctx: FlowContext, call: MissCall<T>): Promise<T> {
  const { settings } = call;
  if (
    call.early ||
    call.readFailed ||
    settings.signal !== undefined ||
    settings.lockWaitTimeout !== null ||
    !ctx.locks.isLocked(call.mangled) ||
    !ctx.freshness.isMiss(call.first)
  ) {
    return new MissFlow<T>(ctx, call).run();
  }
  return join(ctx, call);
}

/** A caller waiting for the holder's release, to be answered with what it leaves. */
interface Joiner {
  readonly call: MissCall<unknown>;
  /** The hand-off tick at which it began to wait (see `Handoffs.take`). */
  readonly since: number;
  /** When it began to wait, for the lock-wait channel; -1 when nobody listens. */
  readonly started: number;
  readonly answer: (result: unknown) => void;
}

/**
 * The callers waiting for each release of a key (the plain waiters of a `KeyedLocks` release
 * share one promise), answered one after another when it comes. A record and a promise per
 * caller instead of a suspended async function: in a burst on a cold key, each waiting caller
 * keeps about 0.3 KB of ours instead of 0.9, and is answered in the turn of the release.
 */
const joiners = new WeakMap<Promise<unknown>, Joiner[]>();

/** Waits for the holder's release, then serves what it left. */
function join<T>(ctx: FlowContext, call: MissCall<T>): Promise<T> {
  const release = ctx.locks.waitForRelease(call.mangled)!;
  let waiting = joiners.get(release);
  if (waiting === undefined) {
    const group: Joiner[] = [];
    joiners.set(release, group);
    release.then((payload) => {
      for (const joiner of group) answer(ctx, joiner, payload);
    });
    waiting = group;
  }
  const since = ctx.handoffs.now();
  const started = lockWaitChannel.hasSubscribers ? ctx.clock.now() : -1;
  const joined = waiting;
  return new Promise<T>((resolve) => {
    joined.push({ call, since, started, answer: resolve as (result: unknown) => void });
  });
}

/** Answers one joiner; what fails fails its call alone, never the others'. */
function answer(ctx: FlowContext, joiner: Joiner, payload: unknown): void {
  let result: unknown;
  try {
    result = served(ctx, joiner, payload);
  } catch (error) {
    result = Promise.reject(error);
  }
  joiner.answer(result);
}

/** What a joiner gets: the value the release left it if fresh, else the whole flow. */
function served(ctx: FlowContext, joiner: Joiner, payload: unknown): unknown {
  const { call, since, started } = joiner;
  if (started >= 0) publishLockWait(ctx.name, call.key, ctx.clock.now() - started, false);
  try {
    const value = released(ctx, call, payload, since);
    if (!(value instanceof Promise)) return serve(ctx, call, value);
    return value.then(
      (read) => serve(ctx, call, read),
      (error: unknown) => readFailed(ctx, call, error),
    );
  } catch (error) {
    return readFailed(ctx, call, error);
  }
}

/**
 * What the holder's release leaves this caller: its hand-off if it may take it (see `Handoffs`),
 * else one read, with tags checked. Not a promise when the store answers at once, so the caller
 * is answered in the turn it wakes.
 */
function released<T>(
  ctx: FlowContext,
  call: MissCall<T>,
  payload: unknown,
  since: number,
): CachedValue | NoValue | Promise<CachedValue | NoValue> {
  const taken = ctx.handoffs.take(payload, since);
  if (taken instanceof Promise) {
    return taken.then((value) =>
      value === undefined ? readOnce(ctx, call.mangled) : checkTags(ctx, value),
    );
  }
  return taken === undefined ? readOnce(ctx, call.mangled) : checkTags(ctx, taken);
}

/** One read of `mangled`, at once from a store that answers at once, as the flow's reads leave it. */
function readOnce(
  ctx: FlowContext,
  mangled: string,
): CachedValue | NoValue | Promise<CachedValue | NoValue> {
  const { store } = ctx;
  const readNow = store.readNow;
  if (readNow === undefined) return store.read(mangled).then((value) => checkTags(ctx, value));
  return checkTags(ctx, readNow(mangled));
}

/** A value as read: the backend answered (a failing one is back), and the value's tags checked. */
function checkTags(
  ctx: FlowContext,
  value: CachedValue | NoValue,
): CachedValue | NoValue | Promise<CachedValue | NoValue> {
  if (ctx.store.failing) ctx.store.answered();
  return hasTags(value) ? ctx.tags.check(value) : value;
}

/** The value in hand if it is fresh; else the whole flow, as if this caller had just arrived. */
function serve<T>(
  ctx: FlowContext,
  call: MissCall<T>,
  value: CachedValue | NoValue,
): T | Promise<T> {
  if (!ctx.freshness.usable(value, call.settings.expiration)) {
    return new MissFlow<T>(
      ctx,
      missCall(call, { first: value, early: false, readFailed: false }),
    ).run();
  }
  publishCoalesced(ctx.name, call.key);
  return value.payload as T;
}

/**
 * As the flow's own reads: an unreadable value is a miss (reported); a failing backend throws,
 * or with fail-safe is reported once and the flow goes on without it.
 */
function readFailed<T>(ctx: FlowContext, call: MissCall<T>, error: unknown): Promise<T> {
  const { failSafe } = call.settings;
  const first = ctx.store.failedRead(error, call.key, failSafe);
  return new MissFlow<T>(ctx, missCall(call, { first, early: false, readFailed: failSafe })).run();
}
