import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ErrorEvent,
  Lock,
  LockTimeoutError,
  NeedRegenerationError,
  type ValueAndCreated,
} from '../src/index.js';
import { deferred, settle, TestMutex } from './helpers.js';

/** A getter over a one-slot store, counting its calls. */
function slot<T>(initial?: ValueAndCreated<T>) {
  const state = { current: initial, reads: 0 };
  const read = (): ValueAndCreated<T> => {
    state.reads++;
    if (state.current === undefined) throw new NeedRegenerationError();
    return state.current;
  };
  return { state, read };
}

const NOW = 1_000_000;
const now = () => NOW;

describe('Lock (port of dogpile/lock.py)', () => {
  it('returns a fresh value without touching the mutex or the creator', async () => {
    const mutex = new TestMutex();
    const { read } = slot<string>(['fresh', NOW - 5]);
    let created = 0;
    const value = await new Lock(
      mutex,
      () => {
        created++;
        return ['new', NOW] as const;
      },
      read,
      10,
      null,
      { now },
    ).run();
    expect(value).toBe('fresh');
    expect(created).toBe(0);
    expect(mutex.log).toEqual([]);
  });

  it('with no value, waits for the mutex, reads again, then creates', async () => {
    const mutex = new TestMutex();
    const { state, read } = slot<string>();
    const value = await new Lock(
      mutex,
      () => {
        state.current = ['created', NOW];
        return state.current;
      },
      read,
      10,
      null,
      { now },
    ).run();
    expect(value).toBe('created');
    // Read once before the mutex and once after taking it (someone may have created it meanwhile).
    expect(state.reads).toBe(2);
    expect(mutex.log).toEqual(['acquire(wait)', 'release']);
    expect(mutex.held).toBe(false);
  });

  it('treats a created time of 0 as no value (the multi-key convention)', async () => {
    const mutex = new TestMutex();
    let created = 0;
    const value = await new Lock(
      mutex,
      () => {
        created++;
        return ['created', NOW] as const;
      },
      () => ['placeholder', 0] as const,
      null,
      null,
      { now },
    ).run();
    expect(value).toBe('created');
    expect(created).toBe(1);
    expect(mutex.log).toEqual(['acquire(wait)', 'release']);
  });

  it('does not create when another holder created the value while it waited for the mutex', async () => {
    const mutex = new TestMutex();
    await mutex.acquire();
    const { state, read } = slot<string>();
    let created = 0;
    const running = new Lock(
      mutex,
      () => {
        created++;
        return ['mine', NOW] as const;
      },
      read,
      10,
      null,
      { now },
    ).run();
    await settle();
    // The other holder stores its value and releases.
    state.current = ['theirs', NOW];
    await mutex.release();
    expect(await running).toBe('theirs');
    expect(created).toBe(0);
    expect(mutex.held).toBe(false);
  });

  it('returns the stale value at once when another holder has the mutex', async () => {
    const mutex = new TestMutex();
    await mutex.acquire(); // someone else is regenerating
    const { read } = slot<string>(['stale', NOW - 100]);
    let created = 0;
    const value = await new Lock(
      mutex,
      () => {
        created++;
        return ['new', NOW] as const;
      },
      read,
      10,
      null,
      { now },
    ).run();
    expect(value).toBe('stale');
    expect(created).toBe(0);
    expect(mutex.log).toEqual(['acquire(wait)', 'acquire(nowait)']);
    expect(mutex.held).toBe(true); // still the other holder's
  });

  it('regenerates a stale value when the mutex is free, and releases it', async () => {
    const mutex = new TestMutex();
    const { read } = slot<string>(['stale', NOW - 100]);
    const value = await new Lock(mutex, () => ['new', NOW] as const, read, 10, null, { now }).run();
    expect(value).toBe('new');
    expect(mutex.log).toEqual(['acquire(nowait)', 'release']);
    expect(mutex.held).toBe(false);
  });

  it('reads the value only once on the expired path (dogpile test_no_double_get_on_expired)', async () => {
    const mutex = new TestMutex();
    let reads = 0;
    const value = await new Lock(
      mutex,
      () => ['the value', 22] as const,
      () => {
        reads++;
        return ['the value', 10] as const;
      },
      10,
      null,
      { now: () => 22 },
    ).run();
    expect(value).toBe('the value');
    expect(reads).toBe(1);
  });

  it('never expires a value when expiretime is null', async () => {
    const mutex = new TestMutex();
    const value = await new Lock(
      mutex,
      () => ['new', NOW] as const,
      () => ['ancient', 1] as const,
      null,
      null,
      { now },
    ).run();
    expect(value).toBe('ancient');
    expect(mutex.log).toEqual([]);
  });

  it('hands the held mutex to the async creator and returns the stale value; the Lock does not release it', async () => {
    const mutex = new TestMutex();
    const { state, read } = slot<string>(['stale', NOW - 100]);
    const finish = deferred();
    let given: unknown;
    let creatorCalled = 0;
    const value = await new Lock(
      mutex,
      () => {
        creatorCalled++;
        return ['inline', NOW] as const;
      },
      read,
      10,
      async (m) => {
        given = m;
        await finish.promise;
        state.current = ['regenerated', NOW];
        await m.release();
      },
      { now },
    ).run();
    expect(value).toBe('stale');
    expect(creatorCalled).toBe(0);
    expect(given).toBe(mutex);
    // run() has returned, and the mutex is still held: it belongs to the async creator now.
    expect(mutex.held).toBe(true);
    expect(mutex.log).toEqual(['acquire(nowait)']);
    finish.resolve();
    await settle();
    expect(mutex.held).toBe(false);
    expect(mutex.log).toEqual(['acquire(nowait)', 'release']);
    expect(state.current).toEqual(['regenerated', NOW]);
  });

  it('does not use the async creator when there is no value to serve meanwhile', async () => {
    const mutex = new TestMutex();
    const { read } = slot<string>();
    let asyncCalls = 0;
    const value = await new Lock(
      mutex,
      () => ['inline', NOW] as const,
      read,
      10,
      () => {
        asyncCalls++;
      },
      { now },
    ).run();
    expect(value).toBe('inline');
    expect(asyncCalls).toBe(0);
    expect(mutex.held).toBe(false);
  });

  it('releases the mutex when the creator throws, and the error reaches the caller', async () => {
    const mutex = new TestMutex();
    const { read } = slot<string>();
    const boom = new Error('creator failed');
    await expect(
      new Lock(
        mutex,
        () => {
          throw boom;
        },
        read,
        10,
        null,
        { now },
      ).run(),
    ).rejects.toBe(boom);
    expect(mutex.held).toBe(false);
    expect(mutex.log).toEqual(['acquire(wait)', 'release']);

    const stale = slot<string>(['stale', NOW - 100]);
    await expect(
      new Lock(
        mutex,
        async () => {
          throw boom;
        },
        stale.read,
        10,
        null,
        { now },
      ).run(),
    ).rejects.toBe(boom);
    expect(mutex.held).toBe(false);
  });

  it('releases the mutex when the async creator throws synchronously', async () => {
    const mutex = new TestMutex();
    const { read } = slot<string>(['stale', NOW - 100]);
    const boom = new Error('could not schedule');
    await expect(
      new Lock(
        mutex,
        () => ['x', NOW] as const,
        read,
        10,
        () => {
          throw boom;
        },
        { now },
      ).run(),
    ).rejects.toBe(boom);
    expect(mutex.held).toBe(false);
  });

  it('passes getter errors other than NeedRegenerationError through, without locking', async () => {
    const mutex = new TestMutex();
    const boom = new Error('backend down');
    await expect(
      new Lock(
        mutex,
        () => ['x', NOW] as const,
        () => {
          throw boom;
        },
        10,
      ).run(),
    ).rejects.toBe(boom);
    expect(mutex.log).toEqual([]);
  });

  describe('when a blocking acquire gives up (a distributed mutex timeout)', () => {
    const givingUp = () => {
      const mutex = new TestMutex();
      mutex.acquire = async () => false;
      return mutex;
    };

    it('throws LockTimeoutError if there is still no value', async () => {
      const { read } = slot<string>();
      const error = await new Lock(givingUp(), () => ['x', NOW] as const, read, 10, null, {
        now,
        key: 'k1',
      })
        .run()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockTimeoutError);
      expect((error as LockTimeoutError).code).toBe('ERR_LOCK_TIMEOUT');
      expect((error as Error).message).toContain('"k1"');
    });

    it("returns the other holder's value if it appeared meanwhile", async () => {
      const { state, read } = slot<string>();
      const mutex = givingUp();
      mutex.acquire = async () => {
        state.current = ['made elsewhere', NOW];
        return false;
      };
      let created = 0;
      const value = await new Lock(
        mutex,
        () => {
          created++;
          return ['x', NOW] as const;
        },
        read,
        10,
        null,
        { now },
      ).run();
      expect(value).toBe('made elsewhere');
      expect(created).toBe(0);
    });
  });

  it('passes acquireOptions (the abort signal) to the blocking acquire only', async () => {
    const seen: unknown[] = [];
    const mutex = new TestMutex();
    const original = mutex.acquire.bind(mutex);
    mutex.acquire = (wait, options) => {
      seen.push([wait, options]);
      return original(wait, options);
    };
    const signal = new AbortController().signal;
    await new Lock(mutex, () => ['x', NOW] as const, slot<string>().read, 10, null, {
      now,
      acquireOptions: { signal },
    }).run();
    expect(seen).toEqual([[true, { signal }]]);
  });

  describe('a rejected async creator', () => {
    let listener: ((message: unknown) => void) | undefined;
    afterEach(() => {
      if (listener) unsubscribe('dogpile:error', listener);
      listener = undefined;
    });

    it('is reported on the dogpile:error channel, not lost', async () => {
      const events: ErrorEvent[] = [];
      listener = (message) => events.push(message as ErrorEvent);
      subscribe('dogpile:error', listener);
      const mutex = new TestMutex();
      const boom = new Error('background failure');
      const value = await new Lock(
        mutex,
        () => ['x', NOW] as const,
        () => ['stale', NOW - 100] as const,
        10,
        async (m) => {
          await m.release();
          throw boom;
        },
        { now },
      ).run();
      expect(value).toBe('stale');
      await settle();
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ operation: 'asyncCreator', error: boom });
    });
  });
});
