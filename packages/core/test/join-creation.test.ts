import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { type CachedValue, makeRegion, type NoValue } from '../src/index.js';
import { deferred, MapBackend, settle } from './helpers.js';

/** Reads fail while `failing` is set. */
class FlakyReads extends MapBackend {
  failing = false;
  override async get(key: string): Promise<CachedValue | NoValue> {
    if (this.failing) throw new Error('read failed');
    return super.get(key);
  }
}

describe('the callers that wait for another caller’s creation here', () => {
  it('all get its value, and each is reported as coalesced once', async () => {
    const region = makeRegion({ name: 'join' }).configure(new MapBackend(), { expirationTime: 60 });
    const events: string[] = [];
    const onMiss = () => events.push('miss');
    const onCoalesced = () => events.push('coalesced');
    subscribe('dogpile:miss', onMiss);
    subscribe('dogpile:coalesced', onCoalesced);
    try {
      const gate = deferred<string>();
      let runs = 0;
      const creator = () => {
        runs++;
        return gate.promise;
      };
      const calls = Array.from({ length: 200 }, () => region.getOrCreate('k', creator));
      await settle();
      gate.resolve('v');
      expect(new Set(await Promise.all(calls))).toEqual(new Set(['v']));
      expect(runs).toBe(1);
      expect(events.filter((e) => e === 'miss')).toHaveLength(1);
      expect(events.filter((e) => e === 'coalesced')).toHaveLength(199);
    } finally {
      unsubscribe('dogpile:miss', onMiss);
      unsubscribe('dogpile:coalesced', onCoalesced);
    }
  });

  it('when the creation fails, the next of them creates, once, for the others', async () => {
    const region = makeRegion().configure(new MapBackend(), { expirationTime: 60 });
    const gate = deferred<string>();
    let runs = 0;
    const creator = () => {
      runs++;
      return runs === 1 ? gate.promise : `made ${runs}`;
    };
    const first = region.getOrCreate('k', creator);
    const others = Array.from({ length: 50 }, () => region.getOrCreate('k', creator));
    await settle();
    gate.reject(new Error('boom'));
    await expect(first).rejects.toThrow('boom');
    expect(new Set(await Promise.all(others))).toEqual(new Set(['made 2']));
    expect(runs).toBe(2);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('a read that fails after the wait goes through the whole flow: thrown, or with failSafe a miss', async () => {
    const backend = new FlakyReads();
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    const reported: unknown[] = [];
    const onError = (event: unknown) => reported.push(event);
    subscribe('dogpile:error', onError);
    try {
      const gate = deferred<string>();
      const first = region.getOrCreate('k', () => gate.promise);
      const plain = region.getOrCreate('k', () => 'plain');
      const safe = region.getOrCreate('k', () => 'safe', { failSafe: true });
      await settle();
      backend.failing = true;
      gate.resolve('v');
      expect(await first).toBe('v');
      await expect(plain).rejects.toThrow('read failed');
      expect(await safe).toBe('safe');
      expect(region.lockedKeyCount).toBe(0);
      // The fail-safe caller's failure is reported, once for the outage.
      expect(reported).toEqual([expect.objectContaining({ operation: 'read', key: 'k' })]);
    } finally {
      unsubscribe('dogpile:error', onError);
    }
  });
});
