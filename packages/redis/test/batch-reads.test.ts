import { CantDeserializeError, NO_VALUE, type NoValue } from '@dogpile/core';
import { startRedis } from '@dogpile/test-servers';
import { type Redis, Redis as RedisClient } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { RedisBackend, RedisBackendError } from '../src/index.js';
import { eventually, makeBackend, noServers, sleep, targets, uniquePrefix } from './helpers.js';

const text = (bytes: Uint8Array | NoValue) =>
  bytes === NO_VALUE ? NO_VALUE : Buffer.from(bytes as Uint8Array).toString('utf8');
const stored = (i: number) => `{"ct":1700000000.5,"v":2}|"value of ${i}"`;

/** How a read ended: its bytes as text, NO_VALUE, or the error's class and code. */
async function outcome(read: Promise<Uint8Array | NoValue>): Promise<string | NoValue> {
  try {
    return text(await read);
  } catch (error) {
    if (error instanceof RedisBackendError) return `RedisBackendError ${error.code}`;
    if (error instanceof CantDeserializeError) return 'CantDeserializeError';
    throw error;
  }
}

/** Counts the MGETs a backend sends (the real command still runs). */
function countMgets(backend: RedisBackend): { calls: () => number; sizes: () => number[] } {
  const spy = vi.spyOn(backend.client as Redis, 'mgetBuffer');
  return {
    calls: () => spy.mock.calls.length,
    sizes: () => spy.mock.calls.map((call) => (call[0] as unknown as string[]).length),
  };
}

describe.skipIf(noServers).each(targets)('batched reads ($name)', (target) => {
  const p = uniquePrefix(`batch-${target.name}`);
  const batching = target.name === 'standalone';

  it('many concurrent reads of different keys (hits, misses, other types, repeats) each get their own value', async () => {
    const backend = makeBackend(target);
    await backend.getSerialized(`${p}connect`);
    const mgets = countMgets(backend);
    const n = 400;
    const raw = target.raw();
    for (let i = 0; i < n; i++) {
      if (i % 5 === 3) continue; // a miss
      if (i % 17 === 4)
        await raw.rpush(`${p}k${i}`, 'a list'); // another type
      else await raw.set(`${p}k${i}`, stored(i));
    }
    const expected = (i: number) =>
      i % 5 === 3 ? NO_VALUE : i % 17 === 4 ? 'another type' : stored(i);
    // Waves in the same turn and in later turns while earlier ones are in flight, keys in a
    // scrambled order and some read several times at once.
    const order = Array.from({ length: 3 * n }, (_, j) => (j * 7919) % n);
    const reads: Array<Promise<string | NoValue>> = [];
    for (let wave = 0; wave < 6; wave++) {
      for (const i of order.slice(wave * (order.length / 6), (wave + 1) * (order.length / 6))) {
        reads.push(outcome(backend.getSerialized(`${p}k${i}`)));
      }
      if (wave % 2 === 1) await sleep(0);
    }
    const results = await Promise.all(reads);
    results.forEach((result, j) => {
      const want = expected(order[j]!);
      if (want === 'another type') {
        // A lone GET says WRONGTYPE; in an MGET the key is nil: a miss. Never another value.
        expect([NO_VALUE, 'CantDeserializeError']).toContain(result);
      } else {
        expect(result).toBe(want);
      }
    });
    if (batching) {
      expect(mgets.calls()).toBeGreaterThan(0);
      // Far fewer commands than reads.
      expect(mgets.sizes().reduce((a, b) => a + b, 0)).toBeGreaterThan(reads.length / 2);
    } else {
      expect(mgets.calls()).toBe(0);
    }
  });

  it('a read with none in flight goes out alone, as a GET', async () => {
    const backend = makeBackend(target);
    const mgets = countMgets(backend);
    await target.raw().set(`${p}alone`, stored(1));
    for (let i = 0; i < 5; i++)
      expect(text(await backend.getSerialized(`${p}alone`))).toBe(stored(1));
    expect(mgets.calls()).toBe(0);
  });
});

describe.skipIf(noServers)('batched reads (standalone only)', () => {
  const p = uniquePrefix('batch-only');
  const [standalone] = targets;

  it('splits a turn of more than 1000 reads into MGETs of at most 1000 keys', async () => {
    const backend = makeBackend(standalone!);
    const mgets = countMgets(backend);
    const raw = standalone!.raw();
    const n = 2500;
    await backend.getSerialized(`${p}connect`); // batching starts once connected
    await raw.mset(...Array.from({ length: n }, (_, i) => [`${p}m${i}`, stored(i)]).flat());
    const reads = Array.from({ length: n }, (_, i) => backend.getSerialized(`${p}m${i}`));
    const values = await Promise.all(reads);
    expect(values.map(text)).toEqual(values.map((_, i) => stored(i)));
    expect(Math.max(...mgets.sizes())).toBeLessThanOrEqual(1000);
    expect(mgets.sizes().reduce((a, b) => a + b, 0)).toBe(n - 1); // the first went alone
  });

  it('batchReads: false sends one GET per read, with auto-pipelining on as before', async () => {
    const backend = makeBackend(standalone!, { batchReads: false });
    const mgets = countMgets(backend);
    expect((backend.client as Redis).options.enableAutoPipelining).toBe(true);
    await standalone!.raw().set(`${p}off`, stored(2));
    const values = await Promise.all(
      Array.from({ length: 50 }, () => backend.getSerialized(`${p}off`)),
    );
    for (const value of values) expect(text(value)).toBe(stored(2));
    expect(mgets.calls()).toBe(0);
    // With batching (the default), auto-pipelining is off: it would hold a lone read a turn.
    expect((makeBackend(standalone!).client as Redis).options.enableAutoPipelining).toBe(false);
  });

  it('reads gathered when the backend is closed settle: their value or ERR_REDIS_CLOSED, never a hang', async () => {
    // Also before the connection is ready: those waiting for it fail because of the close.
    const fresh = makeBackend(standalone!);
    const early = Array.from({ length: 5 }, () => outcome(fresh.getSerialized(`${p}c`)));
    await fresh.close();
    for (const result of await Promise.all(early)) {
      expect([NO_VALUE, stored(3), 'RedisBackendError ERR_REDIS_CLOSED']).toContain(result);
    }
    const backend = makeBackend(standalone!);
    await standalone!.raw().set(`${p}c`, stored(3));
    await backend.getSerialized(`${p}c`);
    const reads = Array.from({ length: 40 }, () => outcome(backend.getSerialized(`${p}c`)));
    const closing = backend.close();
    for (const result of await Promise.all(reads)) {
      expect([stored(3), 'RedisBackendError ERR_REDIS_CLOSED']).toContain(result);
    }
    await closing;
    expect(await outcome(backend.getSerialized(`${p}c`))).toBe(
      'RedisBackendError ERR_REDIS_CLOSED',
    );
  });

  it('a stalled server: a batch fails with ERR_REDIS_TIMEOUT after commandTimeout, later reads at once, and batches work again once it answers', async () => {
    const server = await startRedis();
    const backend = new RedisBackend({ port: server.port, commandTimeout: '300ms' });
    const pid = server.process.child.pid!;
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      for (const [i, key] of keys.entries())
        await backend.setSerialized(key, Buffer.from(stored(i)));
      const mgets = countMgets(backend);
      process.kill(pid, 'SIGSTOP');
      let started = performance.now();
      // One alone, the rest gathered behind it into an MGET: all time out together.
      const stalled = await Promise.all(keys.map((key) => outcome(backend.getSerialized(key))));
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      expect(performance.now() - started).toBeLessThan(3000);
      for (const result of stalled) expect(result).toBe('RedisBackendError ERR_REDIS_TIMEOUT');
      expect(mgets.calls()).toBe(1);
      started = performance.now();
      const atOnce = await Promise.all(keys.map((key) => outcome(backend.getSerialized(key))));
      expect(performance.now() - started).toBeLessThan(100);
      for (const result of atOnce) expect(result).toBe('RedisBackendError ERR_REDIS_TIMEOUT');
      process.kill(pid, 'SIGCONT');
      expect(
        await eventually(async () => {
          try {
            await backend.getSerialized('k0');
            return true;
          } catch {
            return false;
          }
        }, 5000),
      ).toBe(true);
      const back = await Promise.all(keys.map((key) => backend.getSerialized(key)));
      expect(back.map(text)).toEqual(back.map((_, i) => stored(i)));
    } finally {
      process.kill(pid, 'SIGCONT');
      await backend.close();
      await server.stop();
    }
  }, 20_000);

  it('a key the server refuses (an ACL) fails its own read only, not the others gathered with it', async () => {
    const server = await startRedis();
    const admin = new RedisClient({ port: server.port, lazyConnect: true });
    const backend = new RedisBackend({
      port: server.port,
      username: 'limited',
      password: 'pw',
    });
    try {
      await admin.connect();
      await admin.call('ACL', 'SETUSER', 'limited', 'on', '>pw', '~ok:*', '+@all');
      for (let i = 0; i < 20; i++) await admin.set(`ok:${i}`, stored(i));
      await admin.set('secret', stored(99));
      await backend.getSerialized('ok:0'); // connected
      const mgets = countMgets(backend);
      const keys = [
        'ok:0',
        ...Array.from({ length: 20 }, (_, i) => (i === 7 ? 'secret' : `ok:${i}`)),
      ];
      const results = await Promise.all(keys.map((key) => outcome(backend.getSerialized(key))));
      expect(mgets.calls()).toBe(1);
      keys.forEach((key, j) => {
        expect(results[j]).toBe(
          key === 'secret' ? 'RedisBackendError ERR_REDIS_COMMAND' : stored(Number(key.slice(3))),
        );
      });
    } finally {
      await backend.close();
      await admin.quit().catch(() => admin.disconnect());
      await server.stop();
    }
  }, 20_000);

  it('a server that goes away fails every gathered read with a RedisBackendError, promptly', async () => {
    const server = await startRedis();
    const backend = new RedisBackend({ port: server.port });
    try {
      await backend.setSerialized('k', Buffer.from(stored(4)));
      const started = performance.now();
      const reads = Array.from({ length: 30 }, () => outcome(backend.getSerialized('k')));
      const stopping = server.stop();
      for (const result of await Promise.all(reads)) {
        expect([stored(4), 'RedisBackendError ERR_REDIS_CONNECTION']).toContain(result);
      }
      await stopping;
      expect(await outcome(backend.getSerialized('k'))).toBe(
        'RedisBackendError ERR_REDIS_CONNECTION',
      );
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await backend.close();
      await server.stop();
    }
  }, 20_000);
});
