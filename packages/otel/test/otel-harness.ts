import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach } from 'vitest';
import { type DogpileInstrumentation, instrumentDogpile } from '../src/index.js';

/** One data point as the in-memory exporter got it: a sum's value, or a histogram's count/sum. */
export interface Point {
  attributes: Attributes;
  value: number;
  /** Histograms only. */
  count?: number;
  min?: number | undefined;
  max?: number | undefined;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * An SDK meter and tracer provider over in-memory exporters, and `instrumentDogpile` on them;
 * stopped and shut down after the test.
 */
export function harness(options: { spans?: boolean } = {}) {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spanExporter)],
  });
  const otel: DogpileInstrumentation = instrumentDogpile({
    meterProvider,
    tracerProvider,
    ...options,
  });
  cleanups.push(async () => {
    otel.stop();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  });

  /** Every data point of metric `name` in a fresh export (cumulative since the start). */
  async function points(name: string): Promise<Point[]> {
    metricExporter.reset();
    await reader.forceFlush();
    const exported = metricExporter.getMetrics().at(-1);
    const metric = exported?.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .find((m) => m.descriptor.name === name);
    if (metric === undefined) return [];
    return metric.dataPoints.map((point) => {
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        const h = point.value as { count: number; sum?: number; min?: number; max?: number };
        return {
          attributes: point.attributes,
          value: h.sum ?? 0,
          count: h.count,
          min: h.min,
          max: h.max,
        };
      }
      return { attributes: point.attributes, value: point.value as number };
    });
  }

  /** The summed value (counters) or count (histograms) of metric `name` over all attributes. */
  async function total(name: string): Promise<number> {
    return (await points(name)).reduce((n, p) => n + (p.count ?? p.value), 0);
  }

  /** The spans ended so far. */
  function spans(): ReadableSpan[] {
    return spanExporter.getFinishedSpans();
  }

  return { otel, points, total, spans, meterProvider, tracerProvider };
}

/** A clock the test moves by hand (the region option `clock`). */
export class ManualClock {
  #now = 1_700_000_000_000;
  now(): number {
    return this.#now;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** A promise with its resolve and reject. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks and timers of 0 ms run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
