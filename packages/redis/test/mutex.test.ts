import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisMutex } from '../src/index.js';
import {
  captureErrors,
  eventually,
  makeBackend,
  noServers,
  sleep,
  standalone,
  targets,
  uniquePrefix,
} from './helpers.js';

describe.skipIf(noServers).each(targets)('RedisMutex ($name)', (target) => {
  const p = uniquePrefix(`mutex-${target.name}`);

  it('is only given with distributedLock', () => {
    expect(makeBackend(target).getMutex('k')).toBeNull();
    expect(makeBackend(target, { distributedLock: true }).getMutex('k')).toBeInstanceOf(RedisMutex);
  });

  it('takes SET <lockPrefix><key> <token> NX PX <lockTimeout>, excludes others, and releases', async () => {
    const backend = makeBackend(target, { distributedLock: true, lockTimeout: 7 });
    const a = backend.getMutex(`${p}basic`)!;
    const b = backend.getMutex(`${p}basic`)!;
    expect(a.lockKey).toBe(`_lock${p}basic`);
    expect(await a.locked()).toBe(false);
    expect(await a.acquire(false)).toBe(true);
    const token = await target.raw().get(`_lock${p}basic`);
    expect(token).toMatch(/.{8,}/);
    const ttl = await target.raw().pttl(`_lock${p}basic`);
    expect(ttl).toBeGreaterThan(6000);
    expect(ttl).toBeLessThanOrEqual(7000);
    expect(await b.acquire(false)).toBe(false);
    expect(await b.locked()).toBe(true);
    await a.release();
    expect(await target.raw().exists(`_lock${p}basic`)).toBe(0);
    expect(await b.acquire(false)).toBe(true);
    expect(await target.raw().get(`_lock${p}basic`)).not.toBe(token); // a fresh token per acquisition
    await b.release();
    await b.release(); // releasing twice is harmless
  });

  it('uses lockPrefix', async () => {
    const backend = makeBackend(target, { distributedLock: true, lockPrefix: 'my-locks:' });
    const mutex = backend.getMutex(`${p}prefixed`)!;
    expect(await mutex.acquire()).toBe(true);
    expect(await target.raw().exists(`my-locks:${p}prefixed`)).toBe(1);
    await mutex.release();
  });

  it('never deletes the lock of the holder that took over after its own lock expired', async () => {
    const errors = captureErrors();
    try {
      const backend = makeBackend(target, {
        distributedLock: true,
        lockTimeout: '150ms',
        lockAutoExtend: false,
      });
      const first = backend.getMutex(`${p}expired`)!;
      const second = backend.getMutex(`${p}expired`)!;
      expect(await first.acquire(false)).toBe(true);
      await sleep(300); // first's lock expires: first is now a stale holder
      expect(await second.acquire(false)).toBe(true);
      const secondToken = await target.raw().get(`_lock${p}expired`);
      await first.release();
      expect(await target.raw().get(`_lock${p}expired`)).toBe(secondToken);
      expect(await backend.getMutex(`${p}expired`)!.acquire(false)).toBe(false);
      const lost = errors.events.find((event) => event.operation === 'lockRelease');
      expect(lost?.error).toMatchObject({ code: 'ERR_REDIS_LOCK_LOST' });
      await second.release();
      expect(await target.raw().exists(`_lock${p}expired`)).toBe(0);
    } finally {
      errors.stop();
    }
  });

  it('does not let a holder release a lock another token holds (Python dogpile.cache or a stranger)', async () => {
    const errors = captureErrors();
    try {
      const backend = makeBackend(target, { distributedLock: true });
      const mutex = backend.getMutex(`${p}stranger`)!;
      expect(await mutex.acquire(false)).toBe(true);
      await target.raw().set(`_lock${p}stranger`, 'someone-else', 'PX', 5000);
      await mutex.release();
      expect(await target.raw().get(`_lock${p}stranger`)).toBe('someone-else');
      // A lock held by a plain SET NX (what redis-py's Lock does) excludes us too.
      expect(await backend.getMutex(`${p}stranger`)!.acquire(false)).toBe(false);
    } finally {
      errors.stop();
    }
  });

  it('extends a held lock while its creator runs, and stops at release', async () => {
    const backend = makeBackend(target, { distributedLock: true, lockTimeout: '300ms' });
    const holder = backend.getMutex(`${p}extend`)!;
    expect(await holder.acquire()).toBe(true);
    await sleep(1000); // more than three lock timeouts
    expect(await backend.getMutex(`${p}extend`)!.acquire(false)).toBe(false);
    expect(await target.raw().pttl(`_lock${p}extend`)).toBeGreaterThan(0);
    await holder.release();
    expect(await target.raw().exists(`_lock${p}extend`)).toBe(0);
  });

  it('reports ERR_REDIS_LOCK_LOST when the lock is gone at extension time', async () => {
    const errors = captureErrors();
    try {
      const backend = makeBackend(target, { distributedLock: true, lockTimeout: '150ms' });
      const holder = backend.getMutex(`${p}lost`)!;
      expect(await holder.acquire()).toBe(true);
      await target.raw().del(`_lock${p}lost`);
      await sleep(200);
      const lost = errors.events.find((event) => event.operation === 'lockExtend');
      expect(lost?.key).toBe(`_lock${p}lost`);
      expect(lost?.error).toMatchObject({ code: 'ERR_REDIS_LOCK_LOST' });
      await holder.release();
      expect(errors.events.filter((event) => event.operation.startsWith('lock'))).toHaveLength(1);
    } finally {
      errors.stop();
    }
  });

  it('wakes a waiter within milliseconds of the release, far below its poll interval', async () => {
    // Polls 0.5-1 s apart: only the release notification can wake the waiter sooner.
    const backend = makeBackend(target, {
      distributedLock: true,
      lockPollMin: '1s',
      lockPollMax: '1s',
    });
    const holder = backend.getMutex(`${p}wake`)!;
    expect(await holder.acquire()).toBe(true);
    const waiter = backend.getMutex(`${p}wake`)!;
    const acquired = waiter.acquire(true).then(() => performance.now());
    await sleep(600); // past the waiter's first poll; it now sleeps 0.5-1 s more
    const releasedAt = performance.now();
    await holder.release();
    const latency = (await acquired) - releasedAt;
    expect(latency).toBeLessThan(200);
    await waiter.release();
  });

  it('wakes waiters in another backend (another connection) too', async () => {
    const holderBackend = makeBackend(target, { distributedLock: true });
    const waiterBackend = makeBackend(target, {
      distributedLock: true,
      lockPollMin: '1s',
      lockPollMax: '1s',
    });
    const holder = holderBackend.getMutex(`${p}wake2`)!;
    expect(await holder.acquire()).toBe(true);
    const waiter = waiterBackend.getMutex(`${p}wake2`)!;
    const acquired = waiter.acquire(true).then(() => performance.now());
    await sleep(100);
    const releasedAt = performance.now();
    await holder.release();
    expect((await acquired) - releasedAt).toBeLessThan(200);
    await waiter.release();
  });

  it('notices, by polling, a holder that deletes the key without publishing (Python dogpile.cache)', async () => {
    const backend = makeBackend(target, {
      distributedLock: true,
      lockPollMin: '5ms',
      lockPollMax: '50ms',
    });
    await target.raw().set(`_lock${p}python`, 'python-token', 'PX', 10_000);
    const waiter = backend.getMutex(`${p}python`)!;
    const acquired = waiter.acquire(true).then(() => performance.now());
    await sleep(300);
    const releasedAt = performance.now();
    await target.raw().del(`_lock${p}python`);
    expect((await acquired) - releasedAt).toBeLessThan(250);
    await waiter.release();
  });

  it('waitForRelease() wakes at the release without taking the lock', async () => {
    const backend = makeBackend(target, {
      distributedLock: true,
      lockPollMin: '1s',
      lockPollMax: '1s',
    });
    const free = backend.getMutex(`${p}wfr`)!;
    expect(await free.waitForRelease()).toBe(true); // nobody holds it: at once
    const holder = backend.getMutex(`${p}wfr`)!;
    expect(await holder.acquire()).toBe(true);
    const waiters = [0, 1, 2].map(() =>
      backend
        .getMutex(`${p}wfr`)!
        .waitForRelease()
        .then((released) => [released, performance.now()] as const),
    );
    await sleep(600);
    const releasedAt = performance.now();
    await holder.release();
    for (const [released, at] of await Promise.all(waiters)) {
      expect(released).toBe(true);
      expect(at - releasedAt).toBeLessThan(200);
    }
    expect(await target.raw().exists(`_lock${p}wfr`)).toBe(0); // none of them took it
  });

  it('waitForRelease() notices a silent DEL by polling, gives up after lockBlockingTimeout, and aborts', async () => {
    const backend = makeBackend(target, {
      distributedLock: true,
      lockPollMax: '40ms',
      lockBlockingTimeout: '300ms',
    });
    await target.raw().set(`_lock${p}wfr2`, 'python-token', 'PX', 10_000);
    const started = performance.now();
    expect(await backend.getMutex(`${p}wfr2`)!.waitForRelease()).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const waiting = backend.getMutex(`${p}wfr2`)!.waitForRelease();
    await sleep(50);
    await target.raw().del(`_lock${p}wfr2`);
    expect(await waiting).toBe(true);
    await target.raw().set(`_lock${p}wfr2`, 'python-token', 'PX', 10_000);
    const controller = new AbortController();
    const aborted = expect(
      backend.getMutex(`${p}wfr2`)!.waitForRelease({ signal: controller.signal }),
    ).rejects.toThrow('stop');
    controller.abort(new Error('stop'));
    await aborted;
    await target.raw().del(`_lock${p}wfr2`);
  });

  it.each([
    { lockNotify: true, polls: 'every lockPollMax, as it hears releases' },
    { lockNotify: false, polls: 'backing off from lockPollMin, as it hears no releases' },
  ])('a waiter with lockNotify $lockNotify polls $polls', async ({ lockNotify }) => {
    const backend = makeBackend(target, {
      distributedLock: true,
      lockNotify,
      lockPollMin: '5ms',
      lockPollMax: '300ms',
    });
    const key = `${p}cadence-${lockNotify}`;
    await target.raw().set(`_lock${key}`, 'python-token', 'PX', 10_000);
    // Each poll asks whether the lock is still there; count the real EXISTS calls.
    let polls = 0;
    const client = backend.client as { exists: (...args: never[]) => Promise<number> };
    const exists = client.exists.bind(client);
    client.exists = (...args) => {
      polls++;
      return exists(...args);
    };
    const waiting = backend.getMutex(key)!.waitForRelease();
    await sleep(600);
    const seen = polls;
    await target.raw().del(`_lock${key}`);
    expect(await waiting).toBe(true);
    if (lockNotify) {
      // The first attempt, then one every 150-300 ms.
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(seen).toBeLessThanOrEqual(5);
    } else {
      // Delays of 2.5-5, 5-10, ... 150-300 ms: at least 7 attempts in 600 ms.
      expect(seen).toBeGreaterThanOrEqual(7);
    }
  });

  it('without lockNotify, waiters still acquire by polling', async () => {
    const backend = makeBackend(target, {
      distributedLock: true,
      lockNotify: false,
      lockPollMax: '40ms',
    });
    const holder = backend.getMutex(`${p}nonotify`)!;
    expect(await holder.acquire()).toBe(true);
    const waiter = backend.getMutex(`${p}nonotify`)!.acquire(true);
    await sleep(100);
    await holder.release();
    expect(await waiter).toBe(true);
  });

  it('gives up after lockBlockingTimeout, resolving false', async () => {
    const backend = makeBackend(target, { distributedLock: true, lockBlockingTimeout: '200ms' });
    const holder = backend.getMutex(`${p}timeout`)!;
    expect(await holder.acquire()).toBe(true);
    const started = performance.now();
    expect(await backend.getMutex(`${p}timeout`)!.acquire(true)).toBe(false);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1000);
    await holder.release();
  });

  it('stops waiting when the signal aborts, rejecting with its reason', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    const holder = backend.getMutex(`${p}abort`)!;
    expect(await holder.acquire()).toBe(true);
    const controller = new AbortController();
    const waiting = backend.getMutex(`${p}abort`)!.acquire(true, { signal: controller.signal });
    await sleep(50);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    await expect(
      backend.getMutex(`${p}abort`)!.acquire(true, { signal: controller.signal }),
    ).rejects.toThrow('caller gave up');
    await holder.release();
  });

  it('stops waiting when the signal aborts before the wait has even subscribed', async () => {
    const holderBackend = makeBackend(target, { distributedLock: true });
    const holder = holderBackend.getMutex(`${p}early-abort`)!;
    expect(await holder.acquire()).toBe(true);
    for (const delay of [0, 1, 3]) {
      // A fresh backend: its first wait still has to open the subscriber connection.
      const backend = makeBackend(target, { distributedLock: true });
      const controller = new AbortController();
      const waiting = backend
        .getMutex(`${p}early-abort`)!
        .acquire(true, { signal: controller.signal });
      const outcome = expect(waiting).rejects.toThrow('early');
      await sleep(delay);
      controller.abort(new Error('early'));
      const started = performance.now();
      await outcome;
      expect(performance.now() - started).toBeLessThan(500);
    }
    await holder.release();
  });

  it('takes over a lock whose holder vanished once its TTL passes', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    // A holder that crashed: its lock is left with a TTL and nobody releases or extends it.
    await target.raw().set(`_lock${p}crashed`, 'dead-holder', 'PX', 300);
    const started = performance.now();
    expect(await backend.getMutex(`${p}crashed`)!.acquire(true)).toBe(true);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(200);
    expect(waited).toBeLessThan(300 + 100 + 200); // TTL + one poll at most + slack
  });

  it('refuses to wait on a lock the same instance holds', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    const mutex = backend.getMutex(`${p}self`)!;
    expect(await mutex.acquire()).toBe(true);
    expect(await mutex.acquire(false)).toBe(false);
    await expect(mutex.acquire(true)).rejects.toMatchObject({ code: 'ERR_LOCK_STATE' });
    await mutex.release();
  });

  it('serializes many concurrent holders: never two at once', async () => {
    const backends = [0, 1, 2].map(() => makeBackend(target, { distributedLock: true }));
    let inside = 0;
    let maxInside = 0;
    let entered = 0;
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const mutex = backends[i % 3]!.getMutex(`${p}serial`)!;
        expect(await mutex.acquire(true)).toBe(true);
        inside++;
        entered++;
        maxInside = Math.max(maxInside, inside);
        await sleep(2);
        inside--;
        await mutex.release();
      }),
    );
    expect(entered).toBe(30);
    expect(maxInside).toBe(1);
  });

  it('wakes its waiters with ERR_REDIS_CLOSED when the backend closes', async () => {
    const holderBackend = makeBackend(target, { distributedLock: true });
    const backend = makeBackend(target, { distributedLock: true });
    const holder = holderBackend.getMutex(`${p}closing`)!;
    expect(await holder.acquire()).toBe(true);
    const waiting = expect(backend.getMutex(`${p}closing`)!.acquire(true)).rejects.toMatchObject({
      code: 'ERR_REDIS_CLOSED',
    });
    await sleep(50);
    await backend.close();
    await waiting;
    await holder.release();
  });
});

describe.skipIf(noServers)('a lock take without an answer', () => {
  it('is released as soon as Redis answers again, so no lock outlives its caller', async () => {
    const p = uniquePrefix('uncertain');
    const backend = makeBackend(standalone, {
      distributedLock: true,
      lockTimeout: 10,
      commandTimeout: '100ms',
    });
    const admin = standalone.raw() as Redis;
    await backend.getSerialized(`${p}warm`); // connected
    // Writes wait on the server; the client gives up on SET NX after 100 ms, but Redis runs it
    // once the pause ends: a lock nobody knows the token of, for 10 s, unless it is released.
    await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
    const mutex = backend.getMutex(`${p}k`)!;
    await expect(mutex.acquire(false)).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
    expect(mutex.held).toBe(false);
    const pausedUntil = Date.now() + 600;
    // The take ran when the pause ended; the background release follows it within moments.
    expect(
      await eventually(
        async () => (await admin.exists(`_lock${p}k`)) === 0 && Date.now() > pausedUntil,
        5000,
      ),
    ).toBe(true);
    const gone = Date.now() - pausedUntil;
    expect(gone).toBeLessThan(2000);
    console.log(`the orphaned lock was gone ${gone} ms after Redis answered again`);
    expect(await backend.getMutex(`${p}k`)!.acquire(false)).toBe(true);
  });
});
