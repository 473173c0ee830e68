import { describe, expect, it } from 'vitest';
import { CachedValue, jsonSerializer, NO_VALUE } from '../src/index.js';
import { KeyedLocks } from '../src/lock/keyed-locks.js';
import { Handoff, Handoffs } from '../src/region/handoff.js';
import { SharedValue } from '../src/region/shared-reads.js';

const value = (payload: unknown) => new CachedValue(payload, { ct: 1, v: 2 });

/** A holder of 'k' and its watchers, each recording when it began to wait. */
async function holderWithWatchers(handoffs: Handoffs, locks: KeyedLocks) {
  await locks.acquire('k');
  const watch = () => {
    const since = handoffs.now();
    return locks.waitForRelease('k')!.then((payload) => handoffs.take(payload, since));
  };
  return { watch };
}

describe('Handoffs: the value a holder hands the callers waiting for it', () => {
  it('goes to the callers that waited before its read or write began; later ones read for themselves', async () => {
    const handoffs = new Handoffs();
    const locks = new KeyedLocks();
    const { watch } = await holderWithWatchers(handoffs, locks);
    const early = [watch(), watch()];
    const handoff = new Handoff(handoffs.now(), value('read after they began to wait'), false);
    const late = watch();
    locks.release('k', handoffs.settle('k', handoff));
    const taken = await Promise.all(early);
    expect(taken.map((v) => (v as CachedValue).payload)).toEqual([
      'read after they began to wait',
      'read after they began to wait',
    ]);
    expect(await late).toBeUndefined();
  });

  it('for all, when every waiter needs it (a fail-safe write that failed)', async () => {
    const handoffs = new Handoffs();
    const locks = new KeyedLocks();
    const { watch } = await holderWithWatchers(handoffs, locks);
    const early = watch();
    const handoff = new Handoff(handoffs.now(), value('created'), true);
    const late = watch();
    locks.release('k', handoffs.settle('k', handoff));
    expect(((await early) as CachedValue).payload).toBe('created');
    expect(((await late) as CachedValue).payload).toBe('created');
  });

  it('a newer one replaces an older one, for everyone who waited before it', async () => {
    const handoffs = new Handoffs();
    const locks = new KeyedLocks();
    const { watch } = await holderWithWatchers(handoffs, locks);
    const first = watch();
    new Handoff(handoffs.now(), value('older'), false); // replaced before the release
    const second = watch();
    const newer = new Handoff(handoffs.now(), value('newer'), false);
    const third = watch();
    locks.release('k', handoffs.settle('k', newer));
    const [a, b, c] = await Promise.all([first, second, third]);
    expect([(a as CachedValue).payload, (b as CachedValue).payload, c]).toEqual([
      'newer',
      'newer',
      undefined,
    ]);
  });

  it('is taken back by a write or delete through the region made after it began', async () => {
    const handoffs = new Handoffs();
    const locks = new KeyedLocks();
    const { watch } = await holderWithWatchers(handoffs, locks);
    const watcher = watch();
    const handoff = new Handoff(handoffs.now(), value('read before the write'), false);
    handoffs.revoke('k');
    locks.release('k', handoffs.settle('k', handoff));
    expect(await watcher).toBeUndefined();
    // The revocation is settled with that release: the next holder's hand-offs stand.
    await locks.acquire('k');
    const next = watch();
    const fresh = new Handoff(handoffs.now(), value('after'), false);
    locks.release('k', handoffs.settle('k', fresh));
    expect(((await next) as CachedValue).payload).toBe('after');
  });

  it('gives every taker of serialized bytes its own copy', async () => {
    const handoffs = new Handoffs();
    const written = SharedValue.written(
      jsonSerializer,
      'k',
      { ct: 1, v: 2 },
      jsonSerializer.serialize({ list: [1, 2] }),
    );
    const handoff = new Handoff(handoffs.now(), written, true);
    const one = handoffs.take(handoff, 0) as CachedValue;
    const two = handoffs.take(handoff, 0) as CachedValue;
    expect(one.payload).toEqual({ list: [1, 2] });
    expect(one.payload).not.toBe(two.payload);
    expect(one.metadata).not.toBe(two.metadata);
    // A failed read behind a hand-off leaves the taker to read for itself.
    const failed = new Handoff(handoffs.now(), Promise.reject(new Error('read failed')), true);
    await expect(handoffs.take(failed, 0)).resolves.toBeUndefined();
    expect(handoffs.take('not a hand-off', 0)).toBeUndefined();
    expect(NO_VALUE).toBeDefined();
  });
});
