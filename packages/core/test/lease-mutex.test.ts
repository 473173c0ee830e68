import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { MapLeaseStore } from '@dogpile/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ErrorEvent,
  LeaseLocks,
  type LeaseSettings,
  resolveLockOptions,
  ValidationError,
} from '../src/index.js';
import { sleep } from './helpers.js';

const settings = (overrides: Partial<LeaseSettings> = {}): LeaseSettings => ({
  ...resolveLockOptions({}, { owner: 'Test', distributedLock: true, announcesReleases: false })
    .lease,
  ...overrides,
});

const groups: LeaseLocks[] = [];
afterEach(async () => {
  for (const locks of groups.splice(0)) await locks.close();
});

/** Two backends' locks on one store, as two processes sharing a server. */
function pair(store: MapLeaseStore, overrides: Partial<LeaseSettings> = {}) {
  const make = () => {
    const locks = new LeaseLocks({ store, settings: settings(overrides), where: 'test store' });
    groups.push(locks);
    return locks;
  };
  return [make(), make()] as const;
}

function captureErrors() {
  const events: ErrorEvent[] = [];
  const listener = (event: unknown) => events.push(event as ErrorEvent);
  subscribe('dogpile:error', listener);
  return { events, stop: () => unsubscribe('dogpile:error', listener) };
}

describe('LeaseMutex', () => {
  it('excludes, takes a fresh token each time, and releases only its own lease', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store);
    const a = one.mutex('k');
    const b = two.mutex('k');
    expect(a.lockKey).toBe('_lockk');
    expect(await a.acquire(false)).toBe(true);
    expect(a.held).toBe(true);
    const first = store.lease('_lockk')!.token;
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(await b.acquire(false)).toBe(false);
    expect(await b.locked()).toBe(true);
    await b.release(); // not held: must not touch a's lease
    expect(store.lease('_lockk')?.token).toBe(first);
    await a.release();
    expect(store.lease('_lockk')).toBeUndefined();
    expect(await b.acquire(false)).toBe(true);
    expect(store.lease('_lockk')!.token).not.toBe(first);
    await b.release();
  });

  it('a holder whose lease expired never releases the new holder’s lease, and reports the loss', async () => {
    const errors = captureErrors();
    try {
      const store = new MapLeaseStore();
      const [one, two] = pair(store, { lockTimeoutMs: 100, lockAutoExtend: false });
      const stale = one.mutex('k');
      expect(await stale.acquire(false)).toBe(true);
      await sleep(150);
      const owner = two.mutex('k');
      expect(await owner.acquire(false)).toBe(true);
      const token = store.lease('_lockk')!.token;
      await stale.release();
      expect(store.lease('_lockk')?.token).toBe(token);
      expect(errors.events).toHaveLength(1);
      expect(errors.events[0]).toMatchObject({
        operation: 'lockRelease',
        key: '_lockk',
        error: { code: 'ERR_LOCK_LOST' },
      });
      await owner.release();
    } finally {
      errors.stop();
    }
  });

  it('extends a held lease while held, and stops at release', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockTimeoutMs: 150 });
    const holder = one.mutex('k');
    expect(await holder.acquire()).toBe(true);
    await sleep(500);
    expect(await two.mutex('k').acquire(false)).toBe(false);
    await holder.release();
    const extends_ = store.calls.extend;
    await sleep(200);
    expect(store.calls.extend).toBe(extends_);
  });

  it('reports a lease lost at extension once, and forgets it', async () => {
    const errors = captureErrors();
    try {
      const store = new MapLeaseStore();
      const [one] = pair(store, { lockTimeoutMs: 120 });
      const holder = one.mutex('k');
      expect(await holder.acquire()).toBe(true);
      store.leases.set('_lockk', { token: 'thief', expiresAt: Date.now() + 60_000 });
      await sleep(200);
      expect(holder.held).toBe(false);
      expect(errors.events.map((e) => [e.operation, (e.error as { code: string }).code])).toEqual([
        ['lockExtend', 'ERR_LOCK_LOST'],
      ]);
      await holder.release();
      expect(store.lease('_lockk')?.token).toBe('thief');
    } finally {
      errors.stop();
    }
  });

  it('reports failing extensions once per outage, not once per tick', async () => {
    const errors = captureErrors();
    try {
      const store = new MapLeaseStore();
      const [one] = pair(store, { lockTimeoutMs: 60_000 });
      // lockTimeout 60 s extends every 20 s: drive it through a short one instead.
      const [fast] = pair(store, { lockTimeoutMs: 90 });
      const holder = fast.mutex('k');
      expect(await holder.acquire()).toBe(true);
      store.down = new Error('store unreachable');
      await sleep(200); // several ticks fail
      expect(errors.events.filter((e) => e.operation === 'lockExtend')).toHaveLength(1);
      store.down = undefined;
      await sleep(40);
      store.down = new Error('again');
      await sleep(100);
      // Recovered in between (the lease may have been lost meanwhile): at most one more report.
      expect(errors.events.filter((e) => e.operation === 'lockExtend').length).toBeLessThanOrEqual(
        2,
      );
      store.down = undefined;
      await holder.release();
      void one;
    } finally {
      errors.stop();
    }
  });

  it('a blocking acquire waits for the release, backing off from lockPollMin to lockPollMax', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockPollMinMs: 5, lockPollMaxMs: 40 });
    const holder = one.mutex('k');
    await holder.acquire();
    const waiter = two.mutex('k');
    let acquiredAt = 0;
    const waiting = waiter.acquire(true).then((ok) => {
      acquiredAt = Date.now();
      return ok;
    });
    await sleep(200);
    const before = store.calls.tryTake;
    await sleep(400);
    // At most 40 ms apart (half of that at least): 10 to 20 checks in 400 ms, not 80.
    const checks = store.calls.tryTake - before;
    expect(checks).toBeGreaterThanOrEqual(8);
    expect(checks).toBeLessThanOrEqual(25);
    expect(acquiredAt).toBe(0);
    const releasedAt = Date.now();
    await holder.release();
    expect(await waiting).toBe(true);
    expect(acquiredAt - releasedAt).toBeLessThan(40 + 50);
    await waiter.release();
  });

  it('a waiter that hears releases wakes at once, far below its poll interval', async () => {
    const store = new MapLeaseStore({ announces: true });
    const [one, two] = pair(store, { lockPollMinMs: 1000, lockPollMaxMs: 1000 });
    const holder = one.mutex('k');
    await holder.acquire();
    const started = Date.now();
    const waiting = two.mutex('k').acquire(true);
    const waitingRelease = two.mutex('k').waitForRelease();
    await sleep(50);
    await holder.release();
    expect(await waitingRelease).toBe(true);
    expect(await waiting).toBe(true);
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('lockBlockingTimeout bounds a blocking acquire and a wait for release', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockBlockingTimeoutMs: 150 });
    await one.mutex('k').acquire();
    let started = Date.now();
    expect(await two.mutex('k').acquire(true)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    started = Date.now();
    expect(await two.mutex('k').waitForRelease()).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const [, once] = pair(store, { lockBlockingTimeoutMs: 0 });
    expect(await once.mutex('k').acquire(true)).toBe(false);
  });

  it('an abort stops a blocking acquire and a wait for release with its reason', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store);
    await one.mutex('k').acquire();
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const acquiring = two.mutex('k').acquire(true, { signal: controller.signal });
    const waiting = two.mutex('k').waitForRelease({ signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(acquiring).rejects.toBe(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(two.mutex('k').acquire(true, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('waitForRelease does not take the lock, and ends early when `until` says so', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockPollMinMs: 5, lockPollMaxMs: 20 });
    const holder = one.mutex('k');
    await holder.acquire();
    let ready = false;
    let checks = 0;
    const waiting = two.mutex('k').waitForRelease({
      until: () => {
        checks++;
        return ready;
      },
    });
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await sleep(150);
    expect(settled).toBe(false);
    expect(checks).toBeGreaterThan(3);
    ready = true; // e.g. the holder stored its value and then died without releasing
    const readyAt = Date.now();
    expect(await waiting).toBe(true);
    expect(Date.now() - readyAt).toBeLessThan(20 + 50);
    expect(holder.held).toBe(true);
    expect(store.lease('_lockk')).toBeDefined();
    await holder.release();
  });

  it('a take that got no answer is released as soon as the store answers again', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockTimeoutMs: 10_000 });
    store.down = new Error('command timed out');
    store.answersLost = true; // the take happens, but its answer is lost
    await expect(one.mutex('k').acquire(false)).rejects.toThrow('command timed out');
    store.answersLost = false; // now nothing reaches the store at all
    expect(store.lease('_lockk')).toBeDefined(); // an orphan nobody would release for 10 s
    expect(one.settlingCount).toBe(1);
    await sleep(50);
    expect(store.lease('_lockk')).toBeDefined(); // still unreachable
    store.down = undefined;
    const recovered = Date.now();
    while (store.lease('_lockk') !== undefined && Date.now() - recovered < 2000) await sleep(5);
    expect(store.lease('_lockk')).toBeUndefined();
    expect(Date.now() - recovered).toBeLessThan(1100);
    expect(one.settlingCount).toBe(0);
    expect(await two.mutex('k').acquire(false)).toBe(true);
  });

  it('a release the store did not answer is retried in the background', async () => {
    const errors = captureErrors();
    try {
      const store = new MapLeaseStore();
      const [one] = pair(store);
      const holder = one.mutex('k');
      await holder.acquire();
      store.down = new Error('connection refused');
      await holder.release(); // reported, never thrown: the creator's outcome matters more
      expect(errors.events[0]).toMatchObject({ operation: 'lockRelease' });
      expect(store.lease('_lockk')).toBeDefined();
      store.down = undefined;
      const recovered = Date.now();
      while (store.lease('_lockk') !== undefined && Date.now() - recovered < 2000) await sleep(5);
      expect(store.lease('_lockk')).toBeUndefined();
    } finally {
      errors.stop();
    }
  });

  it('close() gives back held leases, stops extension and fails waiters', async () => {
    const store = new MapLeaseStore();
    const [one, two] = pair(store, { lockTimeoutMs: 60_000 });
    const held = one.mutex('k');
    await held.acquire();
    const waiter = one.mutex('other');
    await two.mutex('other').acquire();
    const waiting = waiter.acquire(true);
    await sleep(20);
    await one.close();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_BACKEND_CLOSED' });
    expect(held.held).toBe(false);
    expect(store.lease('_lockk')).toBeUndefined();
    await expect(one.mutex('k').acquire()).rejects.toMatchObject({ code: 'ERR_BACKEND_CLOSED' });
    await held.release(); // harmless
  });

  it('refuses a blocking acquire by its own holder', async () => {
    const [one] = pair(new MapLeaseStore());
    const a = one.mutex('k');
    await a.acquire();
    expect(await a.acquire(false)).toBe(false);
    await expect(a.acquire(true)).rejects.toMatchObject({ code: 'ERR_LOCK_STATE' });
    await expect(a.waitForRelease()).rejects.toMatchObject({ code: 'ERR_LOCK_STATE' });
  });
});

describe('resolveLockOptions', () => {
  const defaults = { owner: 'TestBackend', distributedLock: false, announcesReleases: true };

  it('applies the shared defaults', () => {
    expect(resolveLockOptions({}, defaults)).toEqual({
      distributedLock: false,
      lease: {
        lockTimeoutMs: 10_000,
        lockAutoExtend: true,
        lockBlockingTimeoutMs: null,
        lockPollMinMs: 5,
        lockPollMaxMs: 100,
        lockPrefix: '_lock',
      },
    });
    expect(
      resolveLockOptions({}, { ...defaults, announcesReleases: false }).lease.lockPollMaxMs,
    ).toBe(10);
  });

  it('takes seconds and duration strings, and moves one poll bound with the other', () => {
    const { lease } = resolveLockOptions(
      { lockTimeout: 1.5, lockBlockingTimeout: '250ms', lockPollMax: '2ms', lockPrefix: 'L:' },
      defaults,
    );
    expect(lease).toMatchObject({
      lockTimeoutMs: 1500,
      lockBlockingTimeoutMs: 250,
      lockPollMinMs: 2,
      lockPollMaxMs: 2,
      lockPrefix: 'L:',
    });
    expect(
      resolveLockOptions({ lockBlockingTimeout: -1 }, defaults).lease.lockBlockingTimeoutMs,
    ).toBe(null);
    expect(
      resolveLockOptions({ lockBlockingTimeout: 0 }, defaults).lease.lockBlockingTimeoutMs,
    ).toBe(0);
  });

  it('accepts Python’s lock_sleep (camelCased) as lockPollMax', () => {
    expect(resolveLockOptions({ lockSleep: 0.1 }, defaults).lease.lockPollMaxMs).toBe(100);
  });

  it.each([
    [{ lockTimeout: 0 }, /TestBackend lockTimeout must be more than 0 seconds/],
    [{ lockTimeout: 'soon' }, /lockTimeout must be a number of seconds or a duration string/],
    [
      { lockPollMin: '50ms', lockPollMax: '10ms' },
      /lockPollMax \(10 ms\) must not be less than lockPollMin \(50 ms\)/,
    ],
    [{ lockSleep: 1, lockPollMax: 1 }, /both "lockSleep" and "lockPollMax"/],
    [{ distributedLock: 'yes' }, /distributedLock must be a boolean/],
    [{ lockPrefix: 5 }, /lockPrefix must be a string/],
    [{ lockBlockingTimeout: {} }, /lockBlockingTimeout must be seconds/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveLockOptions(options, defaults)).toThrow(ValidationError);
    expect(() => resolveLockOptions(options, defaults)).toThrow(message);
  });
});
