import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type CacheBackend, makeRegion, NO_VALUE, ValidationError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { RedisBackend } from '@dogpile/redis';
import { type RedisServer, startRedis } from '@dogpile/test-servers';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CircuitBreakerProxy,
  type CircuitEvent,
  CircuitOpenError,
  circuitChannelName,
  StatsProxy,
} from '../src/index.js';
import { captureErrors, eventually, noRedis, sleep } from './helpers.js';

function captureCircuit(): { events: CircuitEvent[]; stop(): void } {
  const events: CircuitEvent[] = [];
  const listener = (message: unknown) => {
    events.push(message as CircuitEvent);
  };
  subscribe(circuitChannelName, listener);
  return { events, stop: () => unsubscribe(circuitChannelName, listener) };
}

describe('CircuitBreakerProxy options', () => {
  it('refuses bad options', () => {
    for (const options of [
      { failureThreshold: 0 },
      { failureThreshold: 2.5 },
      { failureWindow: 0 },
      { openFor: 'soon' },
      { isFailure: true },
      { onStateChange: 1 },
      { name: '' },
      { threshold: 3 },
    ]) {
      expect(() => new CircuitBreakerProxy(options as never), JSON.stringify(options)).toThrow(
        ValidationError,
      );
    }
  });

  it('a caller mistake (a bad key) does not count as a backend failure', async () => {
    const breaker = new CircuitBreakerProxy({ failureThreshold: 1 });
    breaker.wrap(new MemoryBackend());
    // MemoryBackend accepts any key, but a ValidationError from below must not open the breaker.
    const validation = new ValidationError('bad');
    await expect(breaker.guard('get', () => Promise.reject(validation))).rejects.toBe(validation);
    expect(breaker.state).toBe('closed');
  });
});

describe('CircuitBreakerProxy state machine', () => {
  /** A store whose next calls fail, succeed or hang as the test says. */
  class Switchable extends MemoryBackend {
    mode: 'ok' | 'fail' | 'hang' = 'ok';
    override get(key: string) {
      if (this.mode === 'fail') return Promise.reject(new Error('store down'));
      if (this.mode === 'hang') return new Promise<never>(() => {});
      return super.get(key);
    }
  }

  it('counts failures within the window, successes in between or not', async () => {
    const store = new Switchable();
    const breaker = new CircuitBreakerProxy({ failureThreshold: 3, failureWindow: '1s' }).wrap(
      store,
    );
    for (let i = 0; i < 2; i++) {
      store.mode = 'fail';
      await breaker.get('k').catch(() => {});
      store.mode = 'ok';
      await breaker.get('k');
    }
    expect(breaker.state).toBe('closed');
    store.mode = 'fail';
    await breaker.get('k').catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('failures spread wider than the window do not open it', async () => {
    const store = new Switchable();
    store.mode = 'fail';
    const breaker = new CircuitBreakerProxy({ failureThreshold: 2, failureWindow: '50ms' }).wrap(
      store,
    );
    await breaker.get('k').catch(() => {});
    await sleep(80);
    await breaker.get('k').catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('one probe at a time; a hung probe is replaced after openFor', async () => {
    const store = new Switchable();
    store.mode = 'fail';
    const breaker = new CircuitBreakerProxy({ failureThreshold: 1, openFor: '100ms' }).wrap(store);
    await breaker.get('k').catch(() => {});
    expect(breaker.state).toBe('open');
    await sleep(120);
    store.mode = 'hang';
    void breaker.get('k'); // the probe, which never settles
    await expect(breaker.get('k')).rejects.toBeInstanceOf(CircuitOpenError);
    await sleep(120);
    store.mode = 'ok';
    expect(await breaker.get('k')).toBe(NO_VALUE); // a new probe, which succeeds
    expect(breaker.state).toBe('closed');
  });
});

describe.skipIf(noRedis)('CircuitBreakerProxy with Redis stopped', () => {
  let server: RedisServer | undefined;
  const closers: CacheBackend[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((b) => b.close().catch(() => {})));
    await server?.stop();
    server = undefined;
  });

  it('opens, serves 1,000 failSafe calls from the creator within 5 ms each, closes after a restart', async () => {
    server = await startRedis();
    const port = server.port;
    const stats = new StatsProxy(); // inside the breaker: counts what reaches the backend
    const breaker = new CircuitBreakerProxy({
      name: 'redis',
      failureThreshold: 3,
      failureWindow: '10s',
      openFor: '250ms',
    });
    const backend = new RedisBackend({ port, distributedLock: true, connectTimeout: '500ms' });
    closers.push(backend);
    const region = makeRegion({ name: 'breaker', failSafe: true }).configure(backend, {
      expirationTime: 60,
      wrap: [breaker, stats],
    });
    await region.set('warm', 'cached');
    expect(await region.get('warm')).toBe('cached');

    const circuit = captureCircuit();
    const errors = captureErrors();
    try {
      await server.stop();
      // Failures open it: reads, lock acquires and writes all count.
      await eventually(async () => {
        await region.getOrCreate(`opening-${Math.random()}`, () => 'made');
        return breaker.state !== 'closed';
      }, 5000);
      expect(circuit.events.some((e) => e.to === 'open')).toBe(true);

      const reached = () =>
        Object.values(stats.snapshot().operations).reduce((n, op) => n + op.calls, 0);
      const before = reached();
      const durations: number[] = [];
      for (let i = 0; i < 1000; i++) {
        const started = performance.now();
        const value = await region.getOrCreate(`k${i}`, () => `created-${i}`);
        durations.push(performance.now() - started);
        expect(value).toBe(`created-${i}`);
      }
      const slowest = Math.max(...durations);
      durations.sort((a, b) => a - b);
      console.log(
        `breaker open: 1000 failSafe getOrCreate, median ${durations[500]!.toFixed(3)} ms, p99 ${durations[990]!.toFixed(3)} ms, max ${slowest.toFixed(3)} ms`,
      );
      // Each call is a rejection without I/O (tens of microseconds); the bench measures the
      // tail. Here the window is tolerant, for a 2-core CI machine running every suite at once
      // (scheduler and GC pauses, a half-open probe every openFor): 90% within 5 ms, the median
      // within 1 ms, and none near a network timeout (connectTimeout is 500 ms).
      expect(durations.filter((d) => d < 5).length).toBeGreaterThanOrEqual(900);
      expect(durations[500]!).toBeLessThan(1);
      expect(slowest).toBeLessThan(450);
      // Only the half-open probes (one per openFor) reached the backend.
      expect(reached() - before).toBeLessThan(30);
      // The opening was reported once on dogpile:error, not once per call.
      const opens = errors.events.filter((e) => e.operation === 'circuitOpen:redis');
      expect(opens.length).toBeGreaterThanOrEqual(1);
      expect(opens.length).toBe(
        circuit.events.filter((e) => e.from === 'closed' && e.to === 'open').length,
      );

      // Redis comes back on the same port: a probe succeeds, the breaker closes, values cache.
      server = await startRedis({ port });
      await eventually(async () => {
        await region.getOrCreate(`probe-${Math.random()}`, () => 'made');
        return breaker.state === 'closed';
      }, 10_000);
      expect(circuit.events.map((e) => e.to)).toContain('half-open');
      expect(circuit.events.at(-1)).toMatchObject({
        name: 'redis',
        from: 'half-open',
        to: 'closed',
      });
      let created = 0;
      const creator = () => {
        created++;
        return 'fresh';
      };
      expect(await region.getOrCreate('after', creator)).toBe('fresh');
      expect(await region.getOrCreate('after', creator)).toBe('fresh');
      expect(created).toBe(1);
    } finally {
      circuit.stop();
      errors.stop();
    }
  }, 30_000);

  it('a failed half-open probe opens it again; while open, calls fail with ERR_CIRCUIT_OPEN', async () => {
    server = await startRedis();
    const breaker = new CircuitBreakerProxy({ failureThreshold: 2, openFor: '200ms' });
    const backend = new RedisBackend({ port: server.port, connectTimeout: '500ms' });
    closers.push(backend);
    breaker.wrap(backend);
    await server.stop();
    const errors = captureErrors();
    try {
      for (let i = 0; i < 2; i++)
        await expect(breaker.getSerialized('k')).rejects.toMatchObject({
          code: 'ERR_REDIS_CONNECTION',
        });
      expect(breaker.state).toBe('open');
      const open = await breaker.getSerialized('k').catch((e: unknown) => e);
      expect(open).toBeInstanceOf(CircuitOpenError);
      expect((open as CircuitOpenError).code).toBe('ERR_CIRCUIT_OPEN');
      await sleep(250);
      expect(breaker.state).toBe('half-open');
      // The probe goes to Redis (still down) and fails: open again, for another openFor.
      await expect(breaker.getSerialized('k')).rejects.toMatchObject({
        code: 'ERR_REDIS_CONNECTION',
      });
      expect(breaker.state).toBe('open');
      await expect(breaker.getSerialized('k')).rejects.toBeInstanceOf(CircuitOpenError);
    } finally {
      errors.stop();
    }
  });
});
