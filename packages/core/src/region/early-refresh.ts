import type { CachedValue, CacheMetadata } from '../backend/cached-value.js';
import { ValidationError } from '../errors.js';
import { reportError } from '../instrumentation.js';
import type { RandomSource } from '../random.js';
import type { FlowContext, MissCall } from './flow-context.js';
import type { Freshness } from './freshness.js';
import { MissFlow } from './miss-flow.js';

/**
 * Probabilistic early refresh, "XFetch" (Vattani, Chierichetti, Lowenstein: Optimal Probabilistic
 * Cache Stampede Prevention, VLDB 2015). Each read of a fresh value regenerates it ahead of its
 * expiry with probability `exp(-t / (beta * delta))`, `t` being the seconds left before it
 * expires and `delta` how long its creator took (stored in the value's metadata as `cd`). Slow
 * creators start early, and the closer the expiry the likelier a refresh: a hot key is renewed
 * before it ever goes stale.
 *
 * @example
 * makeRegion({ earlyRefresh: { beta: 1 } });
 */
export interface EarlyRefreshOptions {
  /**
   * How eagerly to refresh: above 1 earlier, below 1 later (`beta * delta` is the time scale of
   * the probability). A positive number. Default: `1`, the value the paper recommends.
   */
  beta?: number;
}

/** The `beta` of an `earlyRefresh` option, or `0` when it is off (`undefined` or `false`). */
export function earlyRefreshBeta(
  option: EarlyRefreshOptions | false | undefined,
  what: string,
): number {
  if (option === undefined || option === false) return 0;
  if (option === null || typeof option !== 'object') {
    throw new ValidationError(
      `${what} must be an object such as { beta: 1 }, or false to turn it off; got ${option === null ? 'null' : typeof option}.`,
    );
  }
  const beta = option.beta ?? 1;
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0) {
    throw new ValidationError(
      `${what}.beta must be a positive number (1 is the usual choice; larger refreshes earlier); got ${String(beta)}.`,
    );
  }
  return beta;
}

/**
 * The probability that a read now refreshes this value early: `exp(-t / (beta * delta))`. `0`
 * for a value without a positive stored creation duration (written before early refresh was on,
 * by `set()`, or by another program), since nothing says how early it should start.
 *
 * @param metadata the value's metadata: `ct` (seconds since the epoch) and `cd` (seconds).
 * @param expiration the seconds a value stays fresh.
 * @param now the current time in seconds since the epoch.
 */
export function earlyRefreshProbability(
  metadata: CacheMetadata,
  expiration: number,
  now: number,
  beta: number,
): number {
  const delta = metadata.cd;
  if (typeof delta !== 'number' || !(delta > 0)) return 0;
  const timeLeft = metadata.ct + expiration - now;
  return Math.exp(-timeLeft / (beta * delta));
}

/** Flips the coin: whether a read of this fresh value should refresh it now. */
export function shouldRefreshEarly(
  metadata: CacheMetadata,
  expiration: number,
  now: number,
  beta: number,
  random: RandomSource,
): boolean {
  const probability = earlyRefreshProbability(metadata, expiration, now, beta);
  // `random()` is in [0, 1): a probability of 0 never refreshes, and 1 always does.
  return probability > 0 && random() < probability;
}

/** What {@link refreshEarly} needs: the call that read a fresh value, and the region's parts. */
export interface EarlyRefreshCall<T> {
  readonly flow: FlowContext;
  readonly call: MissCall<T>;
  readonly freshness: Freshness;
  readonly random: RandomSource;
}

/**
 * A fresh value was read with early refresh on: flips the coin and, if it says so, runs the miss
 * flow for it (one creator, as for a stale value). The value in hand is still fresh, so a failed
 * refresh does not fail the read: it is reported, the value served, and later reads flip again.
 */
export function refreshEarly<T>({
  flow,
  call,
  freshness,
  random,
}: EarlyRefreshCall<T>): T | Promise<T> {
  const value = call.first as CachedValue;
  const { expiration, earlyBeta } = call.settings;
  if (
    expiration === null ||
    !shouldRefreshEarly(value.metadata, expiration, freshness.now(), earlyBeta, random)
  ) {
    return value.payload as T;
  }
  return new MissFlow<T>(flow, call).run().catch((error: unknown) => {
    if (error instanceof ValidationError) throw error;
    reportError({ operation: 'earlyRefresh', region: flow.name, key: call.key, error });
    return value.payload as T;
  });
}
