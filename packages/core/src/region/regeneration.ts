import type { Clock } from '../clock.js';
import {
  type RegenerationReason,
  regenerationEndChannel,
  regenerationStartChannel,
} from '../instrumentation.js';

/** What {@link runCreator} gives back. */
export interface Created<T> {
  payload: T;
  /** The creator's run time in seconds, or `NaN` when nobody needed it measured. */
  seconds: number;
}

/**
 * Runs one regeneration's creator, timing it when `measure` is set (early refresh stores the
 * duration) or when someone subscribes to the regeneration channels, and publishing its start
 * and end. A creator that throws still publishes its end, with the error, and then rethrows.
 */
export async function runCreator<T>(
  create: () => T | Promise<T>,
  clock: Clock,
  measure: boolean,
  region: string,
  key: string,
  reason: RegenerationReason,
  background: boolean,
): Promise<Created<T>> {
  const observed = regenerationStartChannel.hasSubscribers || regenerationEndChannel.hasSubscribers;
  if (!measure && !observed) return { payload: await create(), seconds: Number.NaN };
  if (regenerationStartChannel.hasSubscribers) {
    regenerationStartChannel.publish({ region, key, reason, background });
  }
  const started = clock.now();
  let payload: T;
  try {
    payload = await create();
  } catch (error) {
    if (regenerationEndChannel.hasSubscribers) {
      const durationMs = clock.now() - started;
      regenerationEndChannel.publish({
        region,
        key,
        reason,
        background,
        durationMs,
        ok: false,
        error,
      });
    }
    throw error;
  }
  const durationMs = clock.now() - started;
  if (regenerationEndChannel.hasSubscribers) {
    regenerationEndChannel.publish({ region, key, reason, background, durationMs, ok: true });
  }
  return { payload, seconds: durationMs / 1000 };
}

/**
 * Runs the one creator of a `getOrCreateMulti` batch, publishing a start and an end for each key
 * it creates (all with the batch's duration), so that counts per value add up with `getOrCreate`'s.
 */
export async function runMultiCreator<T>(
  create: () => T | Promise<T>,
  clock: Clock,
  region: string,
  keys: readonly string[],
  reasonOf: (key: string) => RegenerationReason,
): Promise<T> {
  if (!regenerationStartChannel.hasSubscribers && !regenerationEndChannel.hasSubscribers) {
    return create();
  }
  const reasons = keys.map(reasonOf);
  if (regenerationStartChannel.hasSubscribers) {
    keys.forEach((key, i) => {
      regenerationStartChannel.publish({ region, key, reason: reasons[i]!, background: false });
    });
  }
  const started = clock.now();
  let ok = true;
  let error: unknown;
  try {
    return await create();
  } catch (thrown) {
    ok = false;
    error = thrown;
    throw thrown;
  } finally {
    if (regenerationEndChannel.hasSubscribers) {
      const durationMs = clock.now() - started;
      keys.forEach((key, i) => {
        const reason = reasons[i]!;
        regenerationEndChannel.publish(
          ok
            ? { region, key, reason, background: false, durationMs, ok }
            : { region, key, reason, background: false, durationMs, ok, error },
        );
      });
    }
  }
}
