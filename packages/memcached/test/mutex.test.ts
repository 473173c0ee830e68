import { makeRegion } from '@dogpile/core';
import memjs from 'memjs';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  leaseSeconds,
  type MemcachedBackendError,
  MemcachedLeaseStore,
  wireKey,
} from '../src/index.js';
import { type Request, Transport } from '../src/transport.js';
import {
  captureErrors,
  makeBackend,
  noServers,
  single,
  sleep,
  targets,
  uniquePrefix,
} from './helpers.js';

describe.skipIf(noServers).each(targets)('the Memcached lock ($name)', (target) => {
  const p = uniquePrefix('mutex');
  const raw = async (key: string) =>
    (await target.raw().get(wireKey(key))).value?.toString('utf8') ?? null;

  it('is an item <lockPrefix><key> holding a token, taken with ADD, excluding other backends', async () => {
    const one = makeBackend(target, { distributedLock: true });
    const two = makeBackend(target, { distributedLock: true });
    const key = `${p}a`;
    const mine = one.getMutex(key)!;
    expect(await mine.acquire(false)).toBe(true);
    const token = await raw(`_lock${key}`);
    expect(token).toMatch(/^[0-9a-f-]{36}$/);
    expect(await two.getMutex(key)!.acquire(false)).toBe(false);
    expect(await two.getMutex(key)!.locked()).toBe(true);
    await mine.release();
    expect(await raw(`_lock${key}`)).toBeNull();
    expect(await two.getMutex(key)!.locked()).toBe(false);
  });

  it('a holder whose lease ran out never removes nor extends the next holder’s lock', async () => {
    const errors = captureErrors();
    try {
      const late = makeBackend(target, {
        distributedLock: true,
        lockTimeout: 0.2,
        lockAutoExtend: false,
      });
      const next = makeBackend(target, { distributedLock: true, lockTimeout: 10 });
      const key = `${p}expired`;
      const stale = late.getMutex(key)!;
      expect(await stale.acquire(false)).toBe(true);
      // 0.2 s is 2 server seconds: gone 1 to 2 s later.
      const nextMutex = next.getMutex(key)!;
      const deadline = Date.now() + 3000;
      while (!(await nextMutex.acquire(false))) {
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(50);
      }
      const nextToken = await raw(`_lock${key}`);
      await stale.release();
      expect(await raw(`_lock${key}`), 'the next holder’s lock is still there').toBe(nextToken);
      const lost = errors.events.filter(
        (e) => (e.error as MemcachedBackendError).code === 'ERR_MEMCACHED_LOCK_LOST',
      );
      expect(lost).toHaveLength(1);
      await nextMutex.release();
      expect(await raw(`_lock${key}`)).toBeNull();
    } finally {
      errors.stop();
    }
  });

  it('never removes a lock it does not hold: Python’s ("1") or anyone’s', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    const key = `${p}python`;
    await target.raw().add(wireKey(`_lock${key}`), '1', { expires: 30 });
    const mutex = backend.getMutex(key)!;
    expect(await mutex.acquire(false)).toBe(false);
    await mutex.release(); // not held: nothing to do
    expect(await raw(`_lock${key}`)).toBe('1');
    await target.raw().delete(wireKey(`_lock${key}`));
  });

  it.skipIf(target.name !== 'one server')(
    'a live holder keeps its lease past lockTimeout by extending it',
    async () => {
      const backend = makeBackend(target, { distributedLock: true, lockTimeout: 0.3 });
      const other = makeBackend(target, { distributedLock: true, lockTimeout: 0.3 });
      const key = `${p}extend`;
      const mutex = backend.getMutex(key)!;
      expect(await mutex.acquire(false)).toBe(true);
      const token = await raw(`_lock${key}`);
      await sleep(2600); // past the 2 server seconds a 0.3 s lease is given
      expect(await other.getMutex(key)!.acquire(false)).toBe(false);
      expect(await raw(`_lock${key}`)).toBe(token);
      await mutex.release();
    },
  );

  it('lockTimeout is rounded up to whole seconds, plus one for the server clock tick', () => {
    expect(leaseSeconds(1)).toBe(2);
    expect(leaseSeconds(1000)).toBe(2);
    expect(leaseSeconds(1001)).toBe(3);
    expect(leaseSeconds(10_000)).toBe(11);
  });

  it('long keys lock on the SHA-1 of the lock key', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    const key = `${p}${'k'.repeat(300)}`;
    const mutex = backend.getMutex(key)!;
    expect(await mutex.acquire(false)).toBe(true);
    expect(await raw(`_lock${key}`)).not.toBeNull();
    await mutex.release();
  });

  it('a region on two backends: one creator, the waiter reads its value', async () => {
    const a = makeRegion().configure(makeBackend(target, { distributedLock: true }), {
      expirationTime: 60,
    });
    const b = makeRegion().configure(makeBackend(target, { distributedLock: true }), {
      expirationTime: 60,
    });
    let runs = 0;
    const creator = async () => {
      runs++;
      await sleep(150);
      return 'once';
    };
    const key = `${p}region`;
    expect(await Promise.all([a.getOrCreate(key, creator), b.getOrCreate(key, creator)])).toEqual([
      'once',
      'once',
    ]);
    expect(runs).toBe(1);
  });
});

describe.skipIf(noServers)('MemcachedLeaseStore release and extend are atomic (CAS)', () => {
  /**
   * The real server, with one interleaving forced: between the GET that finds our token and the
   * DELETE/SET that follows, our lease expires and another holder takes the lock.
   */
  async function raceAfterGet(operation: 'release' | 'extend') {
    const client = memjs.Client.create(single.servers(), { logger: { log() {} } });
    onTestFinished(() => client.close());
    const transport = new Transport(client, {
      requestTimeoutMs: 2000,
      retries: 0,
      retryDelayMs: 10,
      probeIntervalMs: 100,
    });
    const lockKey = `${uniquePrefix('cas')}lock`;
    const store = new MemcachedLeaseStore({
      send: async (request: Request) => {
        const reply = await transport.send(request);
        if (request.operation.endsWith(' GET') && request.operation !== 'lock GET') {
          await client.delete(lockKey); // our lease ran out...
          await client.add(lockKey, 'the next holder', { expires: 30 }); // ...and was taken
        }
        return reply;
      },
      where: () => single.servers(),
    });
    expect(await store.tryTake(lockKey, 'ours', 5000)).toBe(true);
    const done =
      operation === 'release'
        ? await store.release(lockKey, 'ours')
        : await store.extend(lockKey, 'ours', 5000);
    expect(done, `${operation} of a lease taken over in between`).toBe(false);
    expect((await client.get(lockKey)).value?.toString()).toBe('the next holder');
    transport.close();
  }

  it('a release never removes a lock taken over between its GET and its DELETE', () =>
    raceAfterGet('release'));
  it('an extension never overwrites a lock taken over between its GET and its SET', () =>
    raceAfterGet('extend'));
});
