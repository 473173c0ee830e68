import { readFileSync } from 'node:fs';
import { CachedValue, makeRegion, NO_VALUE } from '@dogpile/core';
import { getFreePort, type MemcachedServer, startMemcached } from '@dogpile/test-servers';
import { afterEach, describe, expect, it } from 'vitest';
import { MemcachedBackend, MemcachedBackendError } from '../src/index.js';
import {
  captureErrors,
  eventually,
  makeBackend,
  noServers,
  single,
  sleep,
  uniquePrefix,
} from './helpers.js';

const meta = () => ({ ct: Date.now() / 1000, v: 2 as const });

const servers: MemcachedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});
async function ownServer(options: Parameters<typeof startMemcached>[0] = {}) {
  const server = await startMemcached(options);
  servers.push(server);
  return server;
}

/** SIGSTOPs `server` and waits until the kernel reports it stopped (signals are asynchronous). */
async function pause(server: MemcachedServer): Promise<void> {
  const pid = server.process.child.pid!;
  server.process.child.kill('SIGSTOP');
  const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
  expect(await eventually(() => state() === 'T', 2000, 5)).toBe(true);
}

async function failure(promise: Promise<unknown>): Promise<MemcachedBackendError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MemcachedBackendError);
  return error as MemcachedBackendError;
}

describe.skipIf(noServers)('connection failures', () => {
  it('a server refusing from the start: a clear error, then failing at once; fail-safe serves', async () => {
    const port = await getFreePort();
    const backend = makeBackend(`127.0.0.1:${port}`, { distributedLock: true });
    const first = await failure(backend.get('k'));
    expect(first.code).toBe('ERR_MEMCACHED_CONNECTION');
    expect(first.message).toContain(`127.0.0.1:${port}`);
    expect(first.message).toMatch(/ECONNREFUSED/);
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const next = await failure(backend.set('k', new CachedValue(1, meta())));
      expect(next.code).toBe('ERR_MEMCACHED_CONNECTION');
      expect(next.message).toMatch(/Failing at once/);
    }
    expect(performance.now() - started, '20 calls while down, ms').toBeLessThan(500);

    const errors = captureErrors();
    try {
      const region = makeRegion({ failSafe: true }).configure(backend, { expirationTime: 60 });
      let runs = 0;
      const values = await Promise.all(
        Array.from({ length: 5 }, () => region.getOrCreate('k', () => `made ${++runs}`)),
      );
      // One process, one local lock: a single creator even with the remote lock unreachable.
      expect(runs).toBe(1);
      expect(new Set(values)).toEqual(new Set(['made 1']));
      expect(errors.events.length).toBeGreaterThan(0);
    } finally {
      errors.stop();
    }
  });

  it('a server killed and restarted: fails fast while down, works again once it is back', async () => {
    const server = await ownServer();
    const backend = makeBackend(server.address, { distributedLock: true });
    await backend.set('k', new CachedValue('before', meta()));
    const mutex = backend.getMutex('held')!;
    expect(await mutex.acquire(false)).toBe(true);

    server.process.child.kill('SIGKILL');
    await server.process.exited;
    const down = await failure(backend.get('k'));
    expect(down.code).toBe('ERR_MEMCACHED_CONNECTION');
    const started = performance.now();
    await failure(backend.get('k'));
    expect(performance.now() - started).toBeLessThan(100);
    // A release that cannot reach the server is reported, not thrown.
    const errors = captureErrors();
    await mutex.release();
    errors.stop();
    expect(errors.events.map((e) => (e.error as MemcachedBackendError).code)).toContain(
      'ERR_MEMCACHED_CONNECTION',
    );

    const again = await ownServer({ port: server.port });
    expect(again.port).toBe(server.port);
    // Back within a probe interval or two; the restart lost every value (and the lease).
    expect(
      await eventually(
        () =>
          backend.get('k').then(
            () => true,
            () => false,
          ),
        3000,
        20,
      ),
    ).toBe(true);
    await backend.set('k', new CachedValue('after', meta()));
    expect(((await backend.get('k')) as CachedValue).payload).toBe('after');
    const next = backend.getMutex('held')!;
    expect(await next.acquire(false)).toBe(true);
    await next.release();
  });

  it('a stalled server (SIGSTOP): a timeout within commandTimeout, then failing at once until it answers', async () => {
    const server = await ownServer();
    const backend = makeBackend(server.address, { commandTimeout: 0.3 });
    await backend.set('k', new CachedValue('v', meta()));
    await pause(server);
    try {
      const started = performance.now();
      const stalled = await failure(backend.get('k'));
      const waited = performance.now() - started;
      expect(stalled.code).toBe('ERR_MEMCACHED_TIMEOUT');
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(1500);
      const fast = performance.now();
      const next = await failure(backend.get('k'));
      expect(next.code).toBe('ERR_MEMCACHED_TIMEOUT');
      expect(performance.now() - fast).toBeLessThan(150);
    } finally {
      server.process.child.kill('SIGCONT');
    }
    expect(
      await eventually(
        () =>
          backend.get('k').then(
            () => true,
            () => false,
          ),
        3000,
        20,
      ),
    ).toBe(true);
  });

  it('bad or missing credentials: ERR_MEMCACHED_AUTH', async () => {
    const server = await ownServer({ saslRejectAll: true });
    for (const options of [
      { username: 'app', password: 'wrong' },
      {},
      { servers: `app:wrong@${server.address}` },
    ]) {
      const backend = makeBackend(server.address, options);
      const error = await failure(backend.get('k'));
      expect(error.code).toBe('ERR_MEMCACHED_AUTH');
      expect(error.message).toMatch(/credentials|username and password/);
    }
  });

  it('retries: a read sent again after a connection error reaches a server that came up meanwhile', async () => {
    const port = await getFreePort();
    const patient = makeBackend(`127.0.0.1:${port}`, { retries: 10, retryDelay: 0.2 });
    const reading = patient.get('k');
    await ownServer({ port });
    expect(await reading).toBe(NO_VALUE);
    // Without retries the same read fails on the first refusal.
    const other = await getFreePort();
    const hasty = makeBackend(`127.0.0.1:${other}`);
    const failing = failure(hasty.get('k'));
    await ownServer({ port: other });
    expect((await failing).code).toBe('ERR_MEMCACHED_CONNECTION');
  });

  it('an unknown host: ERR_MEMCACHED_CONNECTION naming it', async () => {
    const backend = makeBackend('no-such-host.invalid:11211');
    const error = await failure(backend.get('k'));
    expect(error.code).toBe('ERR_MEMCACHED_CONNECTION');
    expect(error.message).toContain('no-such-host.invalid:11211');
  });

  it('one of three servers down: only its keys fail', async () => {
    const server = await ownServer();
    const port = await getFreePort();
    const backend = makeBackend(`${single.servers()},${server.address},127.0.0.1:${port}`);
    const p = uniquePrefix('partial');
    const keys = Array.from({ length: 30 }, (_, i) => `${p}${i}`);
    const results = await Promise.allSettled(
      keys.map((key) => backend.set(key, new CachedValue(key, meta()))),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(30);
  });

  it('close() while a request waits on a stalled server rejects it with ERR_MEMCACHED_CLOSED', async () => {
    const server = await ownServer();
    const backend = new MemcachedBackend({ servers: server.address, commandTimeout: 5 });
    await backend.get('k');
    await pause(server);
    try {
      const pending = backend.get('k');
      await sleep(50);
      await backend.close();
      const error = await failure(pending);
      expect(error.code).toBe('ERR_MEMCACHED_CLOSED');
    } finally {
      server.process.child.kill('SIGCONT');
    }
  });
});
