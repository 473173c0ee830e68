import { DogpileError, makeRegion, type RegionOptions, reportError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { CircuitBreakerProxy } from '@dogpile/proxies';
import { describe, expect, it } from 'vitest';
import { attributeNames, metricNames } from '../src/index.js';
import { deferred, harness, ManualClock, settle } from './otel-harness.js';

function setup(options: RegionOptions = {}) {
  const clock = new ManualClock();
  const region = makeRegion({ name: 'reports', clock, ...options }).configure(new MemoryBackend(), {
    expirationTime: 10,
  });
  return { clock, region };
}

const REGION = { [attributeNames.region]: 'reports' };

describe('metrics', () => {
  it('a stampede on a cold key: 1 miss, N-1 coalesced, N-1 lock waits, 1 regeneration', async () => {
    const h = harness();
    const { region, clock } = setup();
    const gate = deferred<string>();
    const n = 50;
    const callers = Array.from({ length: n }, () =>
      region.getOrCreate('cold', async () => {
        const value = await gate.promise;
        clock.advance(40);
        return value;
      }),
    );
    await settle();
    gate.resolve('v');
    expect(new Set(await Promise.all(callers))).toEqual(new Set(['v']));

    expect(await h.points(metricNames.misses)).toEqual([
      { attributes: { ...REGION, [attributeNames.stale]: false }, value: 1 },
    ]);
    expect(await h.points(metricNames.coalesced)).toEqual([{ attributes: REGION, value: n - 1 }]);
    expect(await h.total(metricNames.hits)).toBe(0);
    const waits = await h.points(metricNames.lockWaitDuration);
    expect(waits).toHaveLength(1);
    // In one process: every wait was for the creator of this process, none on a remote lock.
    expect(waits[0]).toMatchObject({
      attributes: { ...REGION, [attributeNames.remote]: false },
      count: n - 1,
    });
    const regenerations = await h.points(metricNames.regenerationDuration);
    expect(regenerations).toEqual([
      {
        attributes: {
          ...REGION,
          [attributeNames.reason]: 'miss',
          [attributeNames.background]: false,
          [attributeNames.ok]: true,
        },
        value: 40,
        count: 1,
        min: 40,
        max: 40,
      },
    ]);
  });

  it('hits, and a stale miss regenerating with reason stale', async () => {
    const h = harness();
    const { region, clock } = setup();
    await region.getOrCreate('k', () => 'v1');
    await region.getOrCreate('k', () => 'never');
    await region.getOrCreate('k', () => 'never');
    expect(await h.points(metricNames.hits)).toEqual([{ attributes: REGION, value: 2 }]);

    clock.advance(11_000);
    expect(await region.getOrCreate('k', () => 'v2')).toBe('v2');
    const misses = await h.points(metricNames.misses);
    expect(misses).toContainEqual({
      attributes: { ...REGION, [attributeNames.stale]: true },
      value: 1,
    });
    const reasons = (await h.points(metricNames.regenerationDuration)).map(
      (p) => p.attributes[attributeNames.reason],
    );
    expect(reasons.sort()).toEqual(['miss', 'stale']);
  });

  it('stale served while another caller regenerates, and handed to a background refresh', async () => {
    const h = harness();
    const { region, clock } = setup();
    await region.getOrCreate('k', () => 'v1');
    clock.advance(11_000);
    const gate = deferred<string>();
    const creating = region.getOrCreate('k', () => gate.promise);
    await settle();
    expect(await region.getOrCreate('k', () => 'never')).toBe('v1');
    gate.resolve('v2');
    await creating;
    expect(await h.points(metricNames.staleServed)).toEqual([
      { attributes: { ...REGION, [attributeNames.handedOver]: false }, value: 1 },
    ]);

    const bg = setup({ backgroundRefresh: true });
    await bg.region.getOrCreate('k', () => 'v1');
    bg.clock.advance(11_000);
    expect(await bg.region.getOrCreate('k', () => 'v2')).toBe('v1');
    await settle();
    expect(await h.points(metricNames.staleServed)).toContainEqual({
      attributes: { ...REGION, [attributeNames.handedOver]: true },
      value: 1,
    });
    const background = (await h.points(metricNames.regenerationDuration)).filter(
      (p) => p.attributes[attributeNames.background] === true,
    );
    expect(background).toHaveLength(1);
    expect(background[0]?.attributes[attributeNames.reason]).toBe('stale');
  });

  it('counts a failing creator as an error with its DogpileError code, and ok=false', async () => {
    const h = harness();
    const { region } = setup();
    const failure = new DogpileError('ERR_UPSTREAM_DOWN', 'upstream is down');
    await expect(region.getOrCreate('k', () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(region.getOrCreate('k', () => Promise.reject(new Error('plain')))).rejects.toThrow(
      'plain',
    );
    const errors = await h.points(metricNames.errors);
    expect(errors).toContainEqual({
      attributes: {
        ...REGION,
        [attributeNames.operation]: 'creator',
        [attributeNames.errorCode]: 'ERR_UPSTREAM_DOWN',
      },
      value: 1,
    });
    expect(errors).toContainEqual({
      attributes: { ...REGION, [attributeNames.operation]: 'creator' },
      value: 1,
    });
    expect(errors).toHaveLength(2);
    const failed = (await h.points(metricNames.regenerationDuration)).filter(
      (p) => p.attributes[attributeNames.ok] === false,
    );
    expect(failed.map((p) => p.count)).toEqual([2]);
  });

  it('counts a failed background refresh once, though the region also reports it', async () => {
    const h = harness();
    const { region, clock } = setup({ backgroundRefresh: true });
    await region.getOrCreate('k', () => 'v1');
    clock.advance(11_000);
    const failure = new Error('refresh failed');
    expect(await region.getOrCreate('k', () => Promise.reject(failure))).toBe('v1');
    await settle();
    expect(await h.total(metricNames.errors)).toBe(1);
  });

  it('counts errors a fail-safe path absorbed, by operation and Node error code', async () => {
    const h = harness();
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    reportError({ operation: 'lockRelease', region: 'reports', key: 'k', error: refused });
    reportError({ operation: 'deserialize', error: new Error('bad bytes') });
    const errors = await h.points(metricNames.errors);
    expect(errors).toContainEqual({
      attributes: {
        ...REGION,
        [attributeNames.operation]: 'lockRelease',
        [attributeNames.errorCode]: 'ECONNREFUSED',
      },
      value: 1,
    });
    expect(errors).toContainEqual({
      attributes: { [attributeNames.operation]: 'deserialize' },
      value: 1,
    });
  });

  it('never puts the cache key on a metric', async () => {
    const h = harness();
    const { region, clock } = setup();
    await region.getOrCreate('secret-key', () => 'v');
    await region.getOrCreate('secret-key', () => 'v');
    clock.advance(11_000);
    await expect(
      region.getOrCreate('secret-key', () => Promise.reject(new Error('x'))),
    ).rejects.toThrow();
    for (const name of Object.values(metricNames)) {
      for (const point of await h.points(name)) {
        expect(Object.keys(point.attributes)).not.toContain(attributeNames.key);
        expect(Object.values(point.attributes)).not.toContain('secret-key');
      }
    }
    expect(await h.total(metricNames.hits)).toBe(1);
  });

  it('keeps regions apart by dogpile.region', async () => {
    const h = harness();
    const a = makeRegion({ name: 'a' }).configure(new MemoryBackend());
    const b = makeRegion({ name: 'b' }).configure(new MemoryBackend());
    await a.getOrCreate('k', () => 1);
    await a.getOrCreate('k', () => 1);
    await b.getOrCreate('k', () => 1);
    const hits = await h.points(metricNames.hits);
    expect(hits).toEqual([{ attributes: { [attributeNames.region]: 'a' }, value: 1 }]);
    const misses = (await h.points(metricNames.misses)).map(
      (p) => p.attributes[attributeNames.region],
    );
    expect(misses.sort()).toEqual(['a', 'b']);
  });

  it('counts circuit breaker transitions by name, from and to', async () => {
    const h = harness();
    const breaker = new CircuitBreakerProxy({
      name: 'redis',
      failureThreshold: 1,
      openFor: '20ms',
    });
    await expect(breaker.guard('get', () => Promise.reject(new Error('down')))).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 40));
    await breaker.guard('get', () => Promise.resolve('ok'));
    const transitions = await h.points(metricNames.circuitTransitions);
    const t = (from: string, to: string) => ({
      attributes: {
        [attributeNames.circuitName]: 'redis',
        [attributeNames.circuitFrom]: from,
        [attributeNames.circuitTo]: to,
      },
      value: 1,
    });
    expect(transitions).toHaveLength(3);
    expect(transitions).toContainEqual(t('closed', 'open'));
    expect(transitions).toContainEqual(t('open', 'half-open'));
    expect(transitions).toContainEqual(t('half-open', 'closed'));
    // Opening is also reported on dogpile:error, so it shows among the errors.
    expect(await h.points(metricNames.errors)).toEqual([
      { attributes: { [attributeNames.operation]: 'circuitOpen:redis' }, value: 1 },
    ]);
  });
});
