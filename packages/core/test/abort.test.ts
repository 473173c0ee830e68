import { describe, expect, it } from 'vitest';
import { CachedValue, makeRegion, VALUE_VERSION, ValidationError } from '../src/index.js';
import { KeyedLocks } from '../src/lock/keyed-locks.js';
import { gatedCreator, ManualClock, MapBackend, settle } from './helpers.js';
import { LockServer, ServerBackend, ServerMutex } from './resilience-fixtures.js';

describe('an AbortSignal on getOrCreate', () => {
  it('stops a waiter at once with the signal’s reason; the creator and the other waiters go on', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();
    const controller = new AbortController();
    const leaving = region.getOrCreate('k', creator.fn, { signal: controller.signal });
    const staying = region.getOrCreate('k', creator.fn);
    await settle();

    const reason = new Error('the user went away');
    controller.abort(reason);
    // Rejected while the creator is still running: it did not wait for it.
    await expect(leaving).rejects.toBe(reason);

    creator.gate.resolve('value');
    await expect(creating).resolves.toBe('value');
    await expect(staying).resolves.toBe('value');
    expect(creator.runs).toBe(1);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('rejects with an AbortError when the signal was aborted without a reason', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();
    const controller = new AbortController();
    const leaving = region.getOrCreate('k', creator.fn, { signal: controller.signal });
    controller.abort();
    await expect(leaving).rejects.toMatchObject({ name: 'AbortError' });
    creator.gate.resolve('value');
    await creating;
  });

  it('rejects at once when the signal is already aborted and the caller would have to wait', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('k', creator.fn);
    await settle();
    const reason = new Error('already gone');
    await expect(
      region.getOrCreate('k', creator.fn, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    creator.gate.resolve('value');
    await creating;
  });

  it('does not interrupt a creation: the caller running the creator still gets and stores its value', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    const creator = gatedCreator<string>();
    const controller = new AbortController();
    const creating = region.getOrCreate('k', creator.fn, { signal: controller.signal });
    await settle();
    controller.abort(new Error('too late: the creator is running'));
    creator.gate.resolve('value');
    await expect(creating).resolves.toBe('value');
    expect(await region.get('k')).toBe('value');
  });

  it('returns a hit, and serves a stale value, whatever the signal: nothing is waited for', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 10 });
    await region.set('k', 'old');
    const aborted = AbortSignal.abort(new Error('aborted'));
    await expect(region.getOrCreate('k', () => 'new', { signal: aborted })).resolves.toBe('old');

    clock.advance(20_000);
    const creator = gatedCreator<string>();
    const regenerating = region.getOrCreate('k', creator.fn);
    await settle();
    // Another caller regenerates: the stale value is served at once, signal or not.
    await expect(region.getOrCreate('k', () => 'x', { signal: aborted })).resolves.toBe('old');
    creator.gate.resolve('new');
    await expect(regenerating).resolves.toBe('new');
  });

  it('stops a wait in the distributed mutex’s blocking acquire, and leaves no listener behind', async () => {
    const server = new LockServer();
    // Another process holds the lock; this mutex has no waitForRelease, so the caller blocks in acquire.
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion().configure(new ServerBackend(server));
    const controller = new AbortController();
    const waiting = region.getOrCreate('k', () => 'mine', { signal: controller.signal });
    await settle();
    expect(server.listening).toBe(1);

    const reason = new Error('stop');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(server.listening).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    // The other process's lock is untouched, and once it is gone this region creates normally.
    expect(server.holders.get('k')).toBe(otherProcess);
    await otherProcess.release();
    await expect(region.getOrCreate('k', () => 'mine')).resolves.toBe('mine');
  });

  it('stops a wait for another process’s release (waitForRelease)', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion().configure(new ServerBackend(server, { waitForRelease: true }));
    const controller = new AbortController();
    const waiting = region.getOrCreate('k', () => 'mine', { signal: controller.signal });
    await settle();
    expect(server.listening).toBe(1);

    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(server.listening).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
    await otherProcess.release();
  });

  it('lets the in-process waiters of this process go on when the caller waiting remotely aborts', async () => {
    const server = new LockServer();
    const otherProcess = new ServerMutex(server, 'k');
    await otherProcess.acquire(false);
    const region = makeRegion().configure(new ServerBackend(server, { waitForRelease: true }));
    const controller = new AbortController();
    // The first caller holds this process's local lock and waits remotely; the second waits locally.
    const first = region.getOrCreate('k', () => 'first', { signal: controller.signal });
    await settle();
    const second = region.getOrCreate('k', () => 'second');
    await settle();
    controller.abort(new Error('first gave up'));
    await expect(first).rejects.toThrow('first gave up');
    // The second caller took over the wait; the other process now stores a value and releases.
    server.values.set('k', new CachedValue('theirs', { ct: Date.now() / 1000, v: VALUE_VERSION }));
    await otherProcess.release();
    await expect(second).resolves.toBe('theirs');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('stops getOrCreateMulti waiting for a key another caller creates; the locks it took are released', async () => {
    const region = makeRegion().configure(new MapBackend());
    const creator = gatedCreator<string>();
    const creating = region.getOrCreate('b', creator.fn);
    await settle();
    const controller = new AbortController();
    let multiRuns = 0;
    const multi = region.getOrCreateMulti(
      ['a', 'b', 'c'],
      async (...keys) => {
        multiRuns++;
        return keys.map((key) => `multi:${key}`);
      },
      { signal: controller.signal },
    );
    await settle();
    // 'a' is locked by the multi call, 'b' is awaited.
    expect(region.lockedKeyCount).toBe(2);
    controller.abort(new Error('stop'));
    await expect(multi).rejects.toThrow('stop');
    expect(multiRuns).toBe(0);
    expect(region.lockedKeyCount).toBe(1);
    creator.gate.resolve('single:b');
    await expect(creating).resolves.toBe('single:b');
    expect(region.lockedKeyCount).toBe(0);
  });

  it('rejects a signal that is not an AbortSignal with a ValidationError', async () => {
    const region = makeRegion().configure(new MapBackend());
    await expect(
      region.getOrCreate('k', () => 'v', { signal: 'soon' as unknown as AbortSignal }),
    ).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('KeyedLocks and aborted callers', () => {
  it('forgets an aborted waiter or watcher at once, not at the next release', async () => {
    const locks = new KeyedLocks();
    expect(locks.tryAcquire('k')).toBe(true);
    const controller = new AbortController();
    const waits = Array.from({ length: 1000 }, (_, i) =>
      (i % 2 === 0
        ? locks.acquire('k', controller.signal)
        : locks.waitForRelease('k', controller.signal)!
      ).catch((error: unknown) => error),
    );
    const patient = locks.acquire('k');
    expect(locks.waiting('k')).toBe(1001);
    controller.abort(new Error('gone'));
    await Promise.all(waits);
    // The holder has not released: only the caller still waiting is queued.
    expect(locks.waiting('k')).toBe(1);
    expect(locks.isLocked('k')).toBe(true);
    locks.release('k');
    await patient;
    locks.release('k');
    expect(locks.size).toBe(0);
    expect(locks.waiting('k')).toBe(0);
  });
});
