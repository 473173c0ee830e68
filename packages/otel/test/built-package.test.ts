import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { packageDir, useBuiltPackage } from './built-package.js';

useBuiltPackage();

/** A script that instruments a region through the real SDK and prints what was recorded. */
const body = `
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const otel = instrumentDogpile({ meterProvider, tracerProvider });
  const region = makeRegion({ name: 'app' }).configure(new MemoryBackend());
  Promise.all(Array.from({ length: 10 }, () => region.getOrCreate('k', async () => 'v')))
    .then(() => region.getOrCreate('k', () => 'never'))
    .then(() => reader.collect())
    .then(({ resourceMetrics }) => {
      otel.stop();
      const sums = {};
      for (const m of resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)) {
        sums[m.descriptor.name] = m.dataPoints.reduce((n, p) => n + (typeof p.value === 'number' ? p.value : p.value.count), 0);
      }
      console.log(JSON.stringify({ sums, spans: exporter.getFinishedSpans().map((s) => s.name) }));
    });
`;
const reader = `
  class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
  const reader = new Reader();
`;
const expected = {
  sums: {
    'dogpile.hits': 1,
    'dogpile.misses': 1,
    'dogpile.coalesced': 9,
    'dogpile.regeneration.duration': 1,
    'dogpile.lock_wait.duration': 9,
  },
  spans: ['dogpile.regenerate'],
};

function run(type: 'module' | 'commonjs', script: string): unknown {
  const out = execFileSync(process.execPath, [`--input-type=${type}`, '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

describe('the built package, loaded as an application loads it', () => {
  it('import from ESM', () => {
    const script = `
      import { makeRegion } from '@dogpile/core';
      import { MemoryBackend } from '@dogpile/memory';
      import { instrumentDogpile } from '@dogpile/otel';
      import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
      import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
      ${reader}${body}`;
    expect(run('module', script)).toEqual(expected);
  });

  it('require() from CommonJS', () => {
    const script = `
      const { makeRegion } = require('@dogpile/core');
      const { MemoryBackend } = require('@dogpile/memory');
      const { instrumentDogpile } = require('@dogpile/otel');
      const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
      const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');
      ${reader}${body}`;
    expect(run('commonjs', script)).toEqual(expected);
  });
});
