import { DogpileError, makeRegion, type RegionOptions } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { attributeNames, metricNames, regenerationSpanName } from '../src/index.js';
import { deferred, harness, ManualClock, settle } from './otel-harness.js';

function setup(options: RegionOptions = {}) {
  const clock = new ManualClock();
  const region = makeRegion({ name: 'reports', clock, ...options }).configure(new MemoryBackend(), {
    expirationTime: 10,
  });
  return { clock, region };
}

describe('the dogpile.regenerate span', () => {
  it('one span per regeneration, not per caller, with region, key, reason and background', async () => {
    const h = harness();
    const { region } = setup();
    const gate = deferred<string>();
    const callers = Array.from({ length: 20 }, () =>
      region.getOrCreate('cold', () => gate.promise),
    );
    await settle();
    expect(h.spans()).toEqual([]); // still running: not ended yet
    gate.resolve('v');
    await Promise.all(callers);
    const spans = h.spans();
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span?.name).toBe(regenerationSpanName);
    expect(span?.attributes).toEqual({
      [attributeNames.region]: 'reports',
      [attributeNames.key]: 'cold',
      [attributeNames.reason]: 'miss',
      [attributeNames.background]: false,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.ended).toBe(true);
  });

  it('a failing creator: status error, the exception recorded, its code as attribute', async () => {
    const h = harness();
    const { region } = setup();
    const failure = new DogpileError('ERR_UPSTREAM_DOWN', 'upstream is down');
    await expect(region.getOrCreate('k', () => Promise.reject(failure))).rejects.toBe(failure);
    const [span] = h.spans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'upstream is down' });
    expect(span?.attributes[attributeNames.errorCode]).toBe('ERR_UPSTREAM_DOWN');
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
    expect(span?.events[0]?.attributes?.['exception.message']).toBe('upstream is down');
    expect(await h.total(metricNames.errors)).toBe(1);
  });

  it('a background regeneration beside a foreground one of the same key: each its own span', async () => {
    const h = harness();
    const { region, clock } = setup({ backgroundRefresh: true });
    await region.getOrCreate('k', () => 'v1');
    clock.advance(11_000);
    const background = deferred<string>();
    expect(await region.getOrCreate('k', () => background.promise)).toBe('v1');
    await settle();
    // A foreground regeneration of the same key and region name (a second region of that name:
    // this one's own key lock keeps its foreground callers out while the background one runs).
    const twin = setup().region;
    const foreground = deferred<string>();
    const fg = twin.getOrCreate('k', () => foreground.promise);
    await settle();
    foreground.resolve('fg');
    await fg;
    // The first span is the initial creation of v1; the second the twin's foreground one.
    expect(h.spans().map((s) => s.attributes[attributeNames.background])).toEqual([false, false]);
    expect(h.spans()[1]?.status.code).toBe(SpanStatusCode.UNSET);
    background.reject(new Error('bg failed'));
    await settle();
    const spans = h.spans();
    expect(spans.map((s) => s.attributes[attributeNames.background])).toEqual([false, false, true]);
    expect(spans[2]?.attributes[attributeNames.reason]).toBe('stale');
    expect(spans[2]?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'bg failed' });
  });

  it('spans: false records the metrics and no span', async () => {
    const h = harness({ spans: false });
    const { region } = setup();
    await region.getOrCreate('k', () => 'v');
    expect(h.spans()).toEqual([]);
    expect(await h.total(metricNames.regenerationDuration)).toBe(1);
  });
});

describe('getOrCreateMulti', () => {
  it('one span, one miss and one regeneration per key the batch creates', async () => {
    const h = harness();
    const { region } = setup();
    await region.getOrCreateMulti(['a', 'b', 'c'], (...keys) => keys.map((k) => `v${k}`));
    await region.getOrCreateMulti(['a', 'b', 'd'], (...keys) => keys.map((k) => `v${k}`));
    expect(
      h
        .spans()
        .map((s) => s.attributes[attributeNames.key])
        .sort(),
    ).toEqual(['a', 'b', 'c', 'd']);
    expect(await h.total(metricNames.misses)).toBe(4);
    expect(await h.total(metricNames.hits)).toBe(2);
    expect(await h.total(metricNames.regenerationDuration)).toBe(4);
  });
});
