import { hasSubscribers } from 'node:diagnostics_channel';
import { channelNames, makeRegion, reportError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { circuitChannelName, instrumentDogpile, metricNames } from '../src/index.js';
import { deferred, harness, settle } from './otel-harness.js';

const allChannels = [...Object.values(channelNames), circuitChannelName];

describe('stop()', () => {
  it('unsubscribes from every channel, so nothing more is recorded', async () => {
    const h = harness();
    for (const name of allChannels) expect(hasSubscribers(name), name).toBe(true);
    const region = makeRegion({ name: 'r' }).configure(new MemoryBackend());
    await region.getOrCreate('k', () => 'v');
    await region.getOrCreate('k', () => 'v');
    expect(await h.total(metricNames.hits)).toBe(1);
    expect(h.spans()).toHaveLength(1);

    h.otel.stop();
    for (const name of allChannels) expect(hasSubscribers(name), name).toBe(false);
    await region.getOrCreate('k', () => 'v');
    await region.getOrCreate('other', () => 'v');
    expect(await h.total(metricNames.hits)).toBe(1);
    expect(await h.total(metricNames.misses)).toBe(1);
    expect(h.spans()).toHaveLength(1);
    h.otel.stop(); // a second stop does nothing
  });

  it('ends a span still open, so it is exported', async () => {
    const h = harness();
    const region = makeRegion({ name: 'r' }).configure(new MemoryBackend());
    const gate = deferred<string>();
    const running = region.getOrCreate('k', () => gate.promise);
    await settle();
    expect(h.spans()).toHaveLength(0);
    h.otel.stop();
    expect(h.spans()).toHaveLength(1);
    gate.resolve('v');
    await running;
    expect(h.spans()).toHaveLength(1);
  });

  it('two instrumentations record on their own; stopping one leaves the other', async () => {
    const a = harness();
    const b = harness();
    const region = makeRegion({ name: 'r' }).configure(new MemoryBackend());
    await region.getOrCreate('k', () => 'v');
    a.otel.stop();
    await region.getOrCreate('k', () => 'v');
    expect(await a.total(metricNames.hits)).toBe(0);
    expect(await b.total(metricNames.hits)).toBe(1);
    expect(await b.total(metricNames.misses)).toBe(1);
    // With b still subscribed, absorbed errors still reach it (and not a process warning).
    reportError({ operation: 'deserialize', error: new Error('x') });
    expect(await b.total(metricNames.errors)).toBe(1);
  });
});

describe('a provider that throws', () => {
  it('never breaks the region or crashes the process: logged once through diag', async () => {
    const logged: unknown[][] = [];
    diag.setLogger(
      {
        error: (...args: unknown[]) => logged.push(args),
        warn: () => {},
        info: () => {},
        debug: () => {},
        verbose: () => {},
      },
      DiagLogLevel.ERROR,
    );
    const broken = new Error('exporter exploded');
    const meter = new MeterProvider().getMeter('x');
    const meterProvider = {
      getMeter: () => ({
        ...meter,
        createHistogram: meter.createHistogram.bind(meter),
        createUpDownCounter: meter.createUpDownCounter.bind(meter),
        createCounter: () => ({
          add: () => {
            throw broken;
          },
        }),
      }),
    } as unknown as MeterProvider;
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    const otel = instrumentDogpile({ meterProvider, spans: false });
    try {
      const region = makeRegion({ name: 'r' }).configure(new MemoryBackend());
      expect(await region.getOrCreate('k', () => 'v')).toBe('v');
      expect(await region.getOrCreate('k', () => 'never')).toBe('v');
      expect(await region.getOrCreate('k', () => 'never')).toBe('v');
      await settle();
      expect(uncaught).toEqual([]);
      expect(logged).toHaveLength(1);
      expect(logged[0]?.[1]).toBe(broken);
    } finally {
      otel.stop();
      process.off('uncaughtException', onUncaught);
      diag.disable();
    }
  });
});
