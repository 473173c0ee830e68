import { type CacheBackend, makeRegion, ValidationError } from '@dogpile/core';
import { RedisBackend } from '@dogpile/redis';
import { type RedisServer, startRedis } from '@dogpile/test-servers';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendTimeoutError, TimeoutProxy } from '../src/index.js';
import { captureErrors, eventually, noRedis } from './helpers.js';

describe('TimeoutProxy options', () => {
  it('refuses bad options', () => {
    for (const options of [
      { timeout: 0 },
      { timeout: -1 },
      { timeout: 'soon' },
      { timeout: null },
      { ms: 5 },
    ]) {
      expect(() => new TimeoutProxy(options as never), JSON.stringify(options)).toThrow(
        ValidationError,
      );
    }
    expect(new TimeoutProxy({ timeout: '50ms' }).timeoutMs).toBe(50);
    expect(new TimeoutProxy().timeoutMs).toBe(1000);
  });
});

describe.skipIf(noRedis)('TimeoutProxy with a stalled Redis', () => {
  let server: RedisServer | undefined;
  const closers: CacheBackend[] = [];
  afterEach(async () => {
    if (server) process.kill(server.process.child.pid!, 'SIGCONT');
    await Promise.all(closers.splice(0).map((b) => b.close().catch(() => {})));
    await server?.stop();
    server = undefined;
  });

  it('fails calls past the deadline with ERR_BACKEND_TIMEOUT, so failSafe serves; late replies are dropped', async () => {
    server = await startRedis();
    const pid = server.process.child.pid!;
    const backend = new RedisBackend({
      port: server.port,
      commandTimeout: '10s',
      distributedLock: true,
    });
    closers.push(backend);
    const proxy = new TimeoutProxy({ timeout: '50ms' });
    const region = makeRegion({ name: 'timeout', failSafe: true }).configure(backend, {
      wrap: [proxy],
    });
    // Written without the proxy: on a loaded machine the first command (connecting) may take
    // longer than the 50 ms deadline under test.
    await makeRegion({ name: 'plain' }).configure(backend).set('k', 'before');
    process.kill(pid, 'SIGSTOP');
    const errors = captureErrors();
    try {
      let started = performance.now();
      const error = await region.get('k').catch((e: unknown) => e);
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(BackendTimeoutError);
      expect((error as BackendTimeoutError).code).toBe('ERR_BACKEND_TIMEOUT');
      expect(waited).toBeGreaterThanOrEqual(45);
      expect(waited).toBeLessThan(500);
      started = performance.now();
      expect(await region.getOrCreate('k', () => 'from the creator')).toBe('from the creator');
      // read, lock acquire and write each wait at most one deadline
      expect(performance.now() - started).toBeLessThan(1000);
      expect(errors.events.length).toBeGreaterThanOrEqual(1);
    } finally {
      process.kill(pid, 'SIGCONT');
      errors.stop();
    }
    // The replies that come late settle nothing and throw nothing; the store works again.
    await eventually(async () => (await region.get('k').catch(() => 'x')) !== 'x', 5000);
  }, 20_000);

  it('a non-blocking lock taken after its deadline is released, not left held', async () => {
    server = await startRedis();
    const pid = server.process.child.pid!;
    const backend = new RedisBackend({
      port: server.port,
      commandTimeout: '10s',
      distributedLock: true,
      lockTimeout: 30,
    });
    closers.push(backend);
    const proxy = new TimeoutProxy({ timeout: '50ms' }).wrap(backend);
    const mutex = proxy.getMutex('late-lock')!;
    process.kill(pid, 'SIGSTOP');
    const attempt = mutex.acquire(false).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(pid, 'SIGCONT');
    expect(await attempt).toBeInstanceOf(BackendTimeoutError);
    // The SET NX landed once Redis woke; the proxy released it when the late reply came.
    const observer = backend.getMutex('late-lock')!;
    expect(await eventually(async () => !(await observer.locked()), 3000)).toBe(true);
  }, 20_000);
});
