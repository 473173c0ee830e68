import { CachedValue, makeRegion, NO_VALUE } from '@dogpile/core';
import {
  getFreePort,
  type RedisSentinel,
  type RedisServer,
  startRedis,
  startRedisSentinel,
} from '@dogpile/test-servers';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend, RedisBackendError } from '../src/index.js';
import { cluster, eventually, noServers, sleep, standalone, uniquePrefix } from './helpers.js';

const meta = () => ({ ct: Date.now() / 1000, v: 2 as const });

async function failure(run: () => Promise<unknown>): Promise<RedisBackendError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(RedisBackendError);
    return error as RedisBackendError;
  }
  throw new Error('expected a RedisBackendError, but the call succeeded');
}

describe.skipIf(noServers)('connection errors', () => {
  // Servers of its own: these tests pause, stop and password-protect them.
  let secured: RedisServer;
  let doomed: RedisServer;
  beforeAll(async () => {
    [secured, doomed] = await Promise.all([startRedis({ password: 's3cret' }), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([secured?.stop(), doomed?.stop()]);
  });

  it('a refused connection fails fast with ERR_REDIS_CONNECTION naming the address', async () => {
    const port = await getFreePort();
    const backend = new RedisBackend({ host: '127.0.0.1', port });
    const started = performance.now();
    const error = await failure(() => backend.get('k'));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('ERR_REDIS_CONNECTION');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('ECONNREFUSED');
    // Still failing fast on later calls, while ioredis retries in the background.
    expect((await failure(() => backend.set('k', new CachedValue(1, meta())))).code).toBe(
      'ERR_REDIS_CONNECTION',
    );
    await backend.close();
  });

  it('a refused Cluster fails fast with ERR_REDIS_CONNECTION', async () => {
    const port = await getFreePort();
    const backend = new RedisBackend({ startupNodes: [{ host: '127.0.0.1', port }] });
    const started = performance.now();
    const error = await failure(() => backend.getMulti(['a', 'b']));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(error.code).toBe('ERR_REDIS_CONNECTION');
    await backend.close();
  });

  it('a missing or wrong password fails with ERR_REDIS_AUTH; the right one works', async () => {
    const none = new RedisBackend({ port: secured.port });
    expect((await failure(() => none.get('k'))).code).toBe('ERR_REDIS_AUTH');
    await none.close();
    const wrong = new RedisBackend({ url: `redis://:nope@127.0.0.1:${secured.port}` });
    const error = await failure(() => wrong.get('k'));
    expect(error.code).toBe('ERR_REDIS_AUTH');
    expect(error.message).not.toContain('nope');
    await wrong.close();
    const right = new RedisBackend({ port: secured.port, password: 's3cret' });
    expect(await right.get('k')).toBe(NO_VALUE);
    await right.close();
  });

  it('rejects a wrong url at construction with ERR_REDIS_URL, without echoing its password', () => {
    for (const url of [
      'not a url',
      'http://localhost:6379',
      'redis://:hunter2@localhost/zero',
      'redis://',
    ]) {
      let caught: unknown;
      try {
        new RedisBackend({ url });
      } catch (error) {
        caught = error;
      }
      expect(caught, url).toBeInstanceOf(RedisBackendError);
      expect((caught as RedisBackendError).code).toBe('ERR_REDIS_URL');
      expect((caught as RedisBackendError).message).not.toContain('hunter2');
    }
  });

  it('an unknown host fails with ERR_REDIS_CONNECTION', async () => {
    const backend = new RedisBackend({ host: 'no-such-host.invalid', connectTimeout: 2 });
    expect((await failure(() => backend.get('k'))).code).toBe('ERR_REDIS_CONNECTION');
    await backend.close();
  });

  it('a server that does not answer fails with ERR_REDIS_TIMEOUT after commandTimeout', async () => {
    const backend = new RedisBackend({ port: doomed.port, commandTimeout: '200ms' });
    await backend.set('k', new CachedValue(1, meta())); // connected and working
    const admin = new Redis(doomed.port);
    await admin.client('PAUSE', 1500, 'ALL');
    const started = performance.now();
    const error = await failure(() => backend.get('k'));
    const waited = performance.now() - started;
    expect(error.code).toBe('ERR_REDIS_TIMEOUT');
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(1200);
    await admin.client('UNPAUSE');
    await admin.quit();
    await backend.close();
  });

  it('a server that goes away fails calls promptly with ERR_REDIS_CONNECTION', async () => {
    const backend = new RedisBackend({ port: doomed.port });
    await backend.set('k', new CachedValue(1, meta()));
    await doomed.stop();
    const started = performance.now();
    const error = await failure(() => backend.get('k'));
    expect(error.code).toBe('ERR_REDIS_CONNECTION');
    expect(performance.now() - started).toBeLessThan(2000);
    await backend.close();
  });
});

describe.skipIf(noServers)('outages fail fast', () => {
  it('once connecting failed, calls fail at once until the server is back, then work again', async () => {
    const server = await startRedis();
    const port = server.port;
    const backend = new RedisBackend({ port, connectTimeout: 2 });
    try {
      await backend.set('k', new CachedValue(1, meta()));
      await server.stop();
      // The first call after the disconnect may wait for a reconnect attempt (connectTimeout at most).
      let started = performance.now();
      expect((await failure(() => backend.get('k'))).code).toBe('ERR_REDIS_CONNECTION');
      expect(performance.now() - started).toBeLessThan(2500);
      // Let ioredis's reconnect backoff grow (its cap is 2 s): calls must not wait for it.
      await sleep(2500);
      const waits: number[] = [];
      for (let i = 0; i < 20; i++) {
        started = performance.now();
        const error = await failure(() =>
          i % 2 === 0 ? backend.get('k') : backend.set('k', new CachedValue(i, meta())),
        );
        waits.push(performance.now() - started);
        expect(error.code).toBe('ERR_REDIS_CONNECTION');
        expect(error.message).toContain(`127.0.0.1:${port}`);
        expect(error.message).toContain('ECONNREFUSED');
      }
      // Each is a rejection without I/O; 50 ms leaves room for a loaded machine's GC pauses.
      expect(Math.max(...waits)).toBeLessThan(50);
      const back = await startRedis({ port });
      try {
        // ioredis reconnects on its own schedule (at most 2 s apart); then calls work again.
        expect(
          await eventually(async () => {
            try {
              await backend.set('k', new CachedValue('back', meta()));
              return true;
            } catch {
              return false;
            }
          }, 8000),
        ).toBe(true);
        expect((await backend.get('k')) as CachedValue).toMatchObject({ payload: 'back' });
      } finally {
        await back.stop();
      }
    } finally {
      await backend.close();
      await server.stop();
    }
  }, 30_000);
});

describe.skipIf(noServers)('a stalled server', () => {
  it('costs one commandTimeout, then calls fail at once until it answers again', async () => {
    const server = await startRedis();
    const backend = new RedisBackend({ port: server.port, commandTimeout: '300ms' });
    const pid = server.process.child.pid!;
    try {
      await backend.set('k', new CachedValue(1, meta()));
      process.kill(pid, 'SIGSTOP');
      let started = performance.now();
      expect((await failure(() => backend.get('k'))).code).toBe('ERR_REDIS_TIMEOUT');
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) {
        started = performance.now();
        const error = await failure(() =>
          i % 2 === 0 ? backend.get('k') : backend.set('k', new CachedValue(i, meta())),
        );
        waits.push(performance.now() - started);
        expect(error.code).toBe('ERR_REDIS_TIMEOUT');
        expect(error.message).toContain('fails at once until it answers a PING');
      }
      expect(Math.max(...waits)).toBeLessThan(50);
      process.kill(pid, 'SIGCONT');
      expect(
        await eventually(async () => {
          try {
            await backend.set('k', new CachedValue('back', meta()));
            return true;
          } catch {
            return false;
          }
        }, 5000),
      ).toBe(true);
      expect((await backend.get('k')) as CachedValue).toMatchObject({ payload: 'back' });
    } finally {
      process.kill(pid, 'SIGCONT');
      await backend.close();
      await server.stop();
    }
  }, 20_000);
});

describe.skipIf(noServers)('client ownership and close()', () => {
  const p = uniquePrefix('ownership');

  it('leaves an existing client open, and closes the lock subscriber it opened', async () => {
    const client = new Redis(standalone.connection().url!);
    const backend = new RedisBackend({ client, distributedLock: true });
    expect(backend.client).toBe(client);
    await backend.set(`${p}a`, new CachedValue(1, meta()));
    // A waiter makes the backend subscribe on a connection of its own.
    const holder = backend.getMutex(`${p}lock`)!;
    expect(await holder.acquire()).toBe(true);
    const waiter = backend.getMutex(`${p}lock`)!.acquire(true);
    const channel = `${backend.lockPrefix}:released`;
    const subscribers = async () =>
      ((await client.pubsub('NUMSUB', channel)) as [string, number])[1];
    expect(await eventually(async () => (await subscribers()) === 1)).toBe(true);
    await holder.release();
    expect(await waiter).toBe(true);
    await backend.close();
    expect(client.status).toBe('ready');
    expect(await client.get(`${p}a`)).toMatch(/^\{"ct":[\d.]+,"v":2\}\|1$/);
    expect(await eventually(async () => (await subscribers()) === 0)).toBe(true);
    await expect(backend.get(`${p}a`)).rejects.toMatchObject({ code: 'ERR_REDIS_CLOSED' });
    await client.quit();
  });

  it('leaves an existing Cluster client open', async () => {
    const client = new Cluster(
      cluster.connection().startupNodes as Array<{ host: string; port: number }>,
    );
    const backend = new RedisBackend({ client });
    expect(backend.isCluster).toBe(true);
    await backend.setMulti(
      new Map([
        [`${p}c1`, new CachedValue(1, meta())],
        [`${p}c2`, new CachedValue(2, meta())],
      ]),
    );
    await backend.close();
    expect(client.status).toBe('ready');
    expect(await client.exists(`${p}c1`)).toBe(1);
    await client.quit();
  });

  it('quits the client it opened, and refuses calls after close()', async () => {
    const backend = new RedisBackend(standalone.connection());
    await backend.set(`${p}b`, new CachedValue(1, meta()));
    await backend.close();
    expect(backend.closed).toBe(true);
    expect(await eventually(() => backend.client.status === 'end')).toBe(true);
    await expect(backend.get(`${p}b`)).rejects.toMatchObject({ code: 'ERR_REDIS_CLOSED' });
    await expect(backend.getMutex(`${p}b`)).toBeNull();
    await backend.close(); // twice is fine
  });

  it('closing a backend that never connected does not hang', async () => {
    const backend = new RedisBackend({ port: await getFreePort() });
    await backend.close();
    expect(await eventually(() => backend.client.status === 'end', 2000)).toBe(true);
  });

  it('a client closed by its owner fails with ERR_REDIS_CONNECTION', async () => {
    const client = new Redis(standalone.connection().url!);
    const backend = new RedisBackend({ client });
    await backend.get(`${p}x`);
    await client.quit();
    await sleep(20);
    expect((await failure(() => backend.get(`${p}x`))).code).toBe('ERR_REDIS_CONNECTION');
    await backend.close();
  });
});

describe.skipIf(noServers)('backend registry', () => {
  it("registers 'redis', so regions configure it by name and from a dogpile-style config", async () => {
    const p = uniquePrefix('registry');
    const region = makeRegion().configure('redis', {
      expirationTime: 60,
      arguments: { url: standalone.connection().url, distributedLock: true },
    });
    expect(region.actualBackend).toBeInstanceOf(RedisBackend);
    expect(await region.getOrCreate(`${p}k`, () => 'made')).toBe('made');
    await region.close();

    const fromConfig = await makeRegion().configureFromConfig(
      {
        'cache.backend': 'dogpile.cache.redis',
        'cache.expiration_time': '60',
        'cache.arguments.url': standalone.connection().url,
        'cache.arguments.distributed_lock': 'true',
        'cache.arguments.lock_timeout': '5',
        'cache.arguments.redis_expiration_time': '120',
        'cache.arguments.thread_local_lock': 'false',
      },
      'cache.',
    );
    const backend = fromConfig.actualBackend as RedisBackend;
    expect(backend.getMutex('x')).not.toBeNull();
    expect(await fromConfig.getOrCreate(`${p}k`, () => 'not called')).toBe('made');
    await fromConfig.set(`${p}k2`, 1);
    const ttl = await standalone.raw().pttl(`${p}k2`);
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    await fromConfig.close();
  });
});

describe.skipIf(noServers)('Sentinel', () => {
  let master: RedisServer;
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    master = await startRedis();
    sentinel = await startRedisSentinel({ masterPort: master.port, name: 'dogpile' });
  });
  afterAll(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  it('finds the master through the Sentinels and stores, reads and locks there', async () => {
    const p = uniquePrefix('sentinel');
    const backend = new RedisBackend({
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      name: 'dogpile',
      distributedLock: true,
    });
    await backend.set(`${p}a`, new CachedValue('via sentinel', meta()));
    const direct = new Redis(master.port);
    expect(await direct.get(`${p}a`)).toMatch(/\|"via sentinel"$/);
    expect(((await backend.get(`${p}a`)) as CachedValue).payload).toBe('via sentinel');
    const holder = backend.getMutex(`${p}a`)!;
    expect(await holder.acquire()).toBe(true);
    const waiter = backend.getMutex(`${p}a`)!.acquire(true);
    await sleep(50);
    await holder.release();
    expect(await waiter).toBe(true);
    await direct.quit();
    await backend.close();
  });

  it('fails with ERR_REDIS_CONNECTION when the master name is unknown', async () => {
    const backend = new RedisBackend({
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      name: 'no-such-master',
      connectTimeout: 2,
    });
    expect((await failure(() => backend.get('k'))).code).toBe('ERR_REDIS_CONNECTION');
    await backend.close();
  });
});
