import type { CachedValue } from '../backend/cached-value.js';
import { lockWaitChannel, publishCoalesced, publishLockWait } from '../instrumentation.js';
import type { NoValue } from '../no-value.js';
import type { FlowContext, MissCall } from './flow-context.js';
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

async function join<T>(ctx: FlowContext, call: MissCall<T>): Promise<T> {
  const { locks, handoffs, store, freshness, clock, name } = ctx;
  const { key, mangled } = call;
  const since = handoffs.now();
  const started = lockWaitChannel.hasSubscribers ? clock.now() : -1;
  const payload = await locks.waitForRelease(mangled);
  if (started >= 0) publishLockWait(name, key, clock.now() - started, false);
  let value: CachedValue | NoValue | undefined;
  try {
    const taken = handoffs.take(payload, since);
    value = taken instanceof Promise ? await taken : taken;
    if (value === undefined) {
      const readNow = store.readNow;
      value = readNow !== undefined ? readNow(mangled) : await store.read(mangled);
    }
    if (hasTags(value)) value = await ctx.tags.check(value);
    if (store.failing) store.answered();
  } catch (error) {
    // As the flow's own reads: an unreadable value is a miss (reported); a failing backend
    // throws, or with fail-safe is reported once and the flow goes on without it.
    const { failSafe } = call.settings;
    const first = store.failedRead(error, key, failSafe);
    return new MissFlow<T>(ctx, { ...call, first, readFailed: failSafe }).run();
  }
  if (!freshness.usable(value, call.settings.expiration)) {
    return new MissFlow<T>(ctx, { ...call, first: value }).run();
  }
  publishCoalesced(name, key);
  return value.payload as T;
}
