import { channel } from 'node:diagnostics_channel';

// Every publish below is guarded by `hasSubscribers`, so with nobody listening no message object
// is built and the cost is one property read.

/** The names of the channels the region publishes on, for `diagnostics_channel.subscribe`. */
export const channelNames = {
  hit: 'dogpile:hit',
  miss: 'dogpile:miss',
  coalesced: 'dogpile:coalesced',
  staleServed: 'dogpile:stale-served',
  regenerationStart: 'dogpile:regeneration:start',
  regenerationEnd: 'dogpile:regeneration:end',
  lockWait: 'dogpile:lock-wait',
  error: 'dogpile:error',
} as const;

/** Published on `dogpile:hit`: `getOrCreate` (or `getOrCreateMulti`, per key) found a fresh value. */
export interface HitEvent {
  /** The region's `name`. */
  region: string;
  /** The key as the caller gave it (before the key mangler). */
  key: string;
}

/**
 * Published on `dogpile:miss`: `getOrCreate` (or `getOrCreateMulti`, per key) found no fresh
 * value and creates it, waits for another process's creator, or is served a stale one. Every
 * `getOrCreate` call publishes exactly one hit, one miss or one coalesced event.
 */
export interface MissEvent {
  region: string;
  key: string;
  /** A stale value (expired or soft-invalidated) was there; `false`: nothing usable at all. */
  stale: boolean;
}

/**
 * Published on `dogpile:coalesced`: `getOrCreate` found nothing, and got the value another caller
 * of this process created meanwhile (it waited for that caller instead of creating). In a
 * stampede of 1,000 callers on a cold key: 1 miss and 999 coalesced, so hit-rate dashboards can
 * count them as served by the cache.
 */
export interface CoalescedEvent {
  region: string;
  key: string;
}

/** Published on `dogpile:stale-served`: a caller got the stale value while the key regenerates. */
export interface StaleServedEvent {
  region: string;
  key: string;
  /**
   * `true`: this caller handed the regeneration to the background (`backgroundRefresh` or an
   * `asyncCreationRunner`). `false`: another caller (or process) holds the creation lock.
   */
  handedOver: boolean;
}

/**
 * Why a creator runs: no value (`'miss'`), an expired or soft-invalidated one (`'stale'`), or an
 * early refresh of a fresh one (`'early'`).
 */
export type RegenerationReason = 'miss' | 'stale' | 'early';

/** Published on `dogpile:regeneration:start`, just before a creator runs. */
export interface RegenerationStartEvent {
  region: string;
  key: string;
  reason: RegenerationReason;
  /** Runs in the background while the caller was served the current value. */
  background: boolean;
}

/** Published on `dogpile:regeneration:end` when the creator settled. */
export interface RegenerationEndEvent extends RegenerationStartEvent {
  /** The creator's run time in milliseconds, by the region's clock. */
  durationMs: number;
  /** `false` when the creator threw; the error is in `error`. */
  ok: boolean;
  error?: unknown;
}

/**
 * Published on `dogpile:lock-wait` each time a caller stops waiting for a key's creation lock:
 * for another caller's (or process's) creator to release it, or in a blocking acquire of a
 * distributed mutex.
 */
export interface LockWaitEvent {
  region: string;
  key: string;
  /** How long this wait lasted, in milliseconds, by the region's clock. */
  durationMs: number;
  /**
   * `true`: a wait on the backend's distributed mutex (for another process, or a blocking
   * acquire); `false`: for another caller of this process.
   */
  remote: boolean;
}

/** The payload published on `dogpile:error`. */
export interface ErrorEvent {
  /** What was being done: `'asyncCreator'`, `'deserialize'`, `'backgroundRefresh'`, ... */
  operation: string;
  /** The region's `name`, when a region reported it. */
  region?: string | undefined;
  key?: string | undefined;
  error: unknown;
}

/** `getOrCreate` found a fresh value; messages are {@link HitEvent}s. */
export const hitChannel = channel(channelNames.hit);
/** `getOrCreate` found no fresh value; messages are {@link MissEvent}s. */
export const missChannel = channel(channelNames.miss);
/** A caller got the value another caller created; messages are {@link CoalescedEvent}s. */
export const coalescedChannel = channel(channelNames.coalesced);
/** A stale value was served; messages are {@link StaleServedEvent}s. */
export const staleServedChannel = channel(channelNames.staleServed);
/** A creator is about to run; messages are {@link RegenerationStartEvent}s. */
export const regenerationStartChannel = channel(channelNames.regenerationStart);
/** A creator settled; messages are {@link RegenerationEndEvent}s. */
export const regenerationEndChannel = channel(channelNames.regenerationEnd);
/** A caller waited for a creation lock; messages are {@link LockWaitEvent}s. */
export const lockWaitChannel = channel(channelNames.lockWait);
/**
 * Errors that a fail-safe path absorbed instead of throwing (a background creator that failed, a
 * stored value that could not be read). Subscribe with `diagnostics_channel.subscribe`.
 */
export const errorChannel = channel(channelNames.error);

export function publishHit(region: string, key: string): void {
  if (hitChannel.hasSubscribers) hitChannel.publish({ region, key } satisfies HitEvent);
}

export function publishMiss(region: string, key: string, stale: boolean): void {
  if (missChannel.hasSubscribers) missChannel.publish({ region, key, stale } satisfies MissEvent);
}

export function publishCoalesced(region: string, key: string): void {
  if (coalescedChannel.hasSubscribers) {
    coalescedChannel.publish({ region, key } satisfies CoalescedEvent);
  }
}

export function publishStaleServed(region: string, key: string, handedOver: boolean): void {
  if (staleServedChannel.hasSubscribers) {
    staleServedChannel.publish({ region, key, handedOver } satisfies StaleServedEvent);
  }
}

export function publishLockWait(
  region: string,
  key: string,
  durationMs: number,
  remote: boolean,
): void {
  if (lockWaitChannel.hasSubscribers) {
    lockWaitChannel.publish({ region, key, durationMs, remote } satisfies LockWaitEvent);
  }
}

/**
 * Reports an error that is not thrown to a caller. Nobody listening: it becomes a process warning,
 * so it is never lost silently.
 */
export function reportError(event: ErrorEvent): void {
  if (errorChannel.hasSubscribers) {
    errorChannel.publish(event);
    return;
  }
  const error = event.error instanceof Error ? event.error : new Error(String(event.error));
  process.emitWarning(
    `dogpile ${event.operation}${event.key === undefined ? '' : ` for key "${event.key}"`} failed: ${error.message}`,
    { type: 'DogpileWarning', detail: error.stack },
  );
}
