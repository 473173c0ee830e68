import { asyncCacheDedupe } from './async-cache-dedupe.js';
import { bentocache } from './bentocache.js';
import { cacheManager } from './cache-manager.js';
import { cachified } from './cachified.js';
import {
  type Contender,
  type ContenderFactory,
  isContender,
  type NotApplicable,
  type Store,
} from './contender.js';
import { dogpile } from './dogpile.js';

/** Ours first, then the peers a user would pick instead, in the order the tables show them. */
export const CONTENDERS: ContenderFactory[] = [
  dogpile,
  bentocache,
  cacheManager,
  cachified,
  asyncCacheDedupe,
];

/** Every contender on `store`, split into those that exist there and those shown as n/a. */
export async function contendersOn(
  store: Store,
  factories: ContenderFactory[] = CONTENDERS,
): Promise<{ contenders: Contender[]; notApplicable: NotApplicable[] }> {
  const contenders: Contender[] = [];
  const notApplicable: NotApplicable[] = [];
  try {
    for (const factory of factories) {
      const c = await factory(store);
      if (isContender(c)) contenders.push(closingOnce(c));
      else notApplicable.push(c);
    }
  } catch (error) {
    // Close what was already opened, so a failing constructor leaves no connection behind.
    await closeAll(contenders);
    throw error;
  }
  return { contenders, notApplicable };
}

/** Makes `close()` idempotent, so cleanup paths may close a contender more than once. */
function closingOnce(contender: Contender): Contender {
  let closing: Promise<void> | undefined;
  const close = contender.close.bind(contender);
  contender.close = () => {
    closing ??= close();
    return closing;
  };
  return contender;
}

/** Closes every contender, even when some fail to close; rethrows the first failure. */
export async function closeAll(contenders: readonly Contender[]): Promise<void> {
  const results = await Promise.allSettled(contenders.map((c) => c.close()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

export type { Contender, NotApplicable, Store };
