import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { metricNames } from './names.js';

/** Bucket boundaries (ms) for the duration histograms: 1 ms to 30 s. */
export const durationBucketsMs = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000,
] as const;

/** The instruments {@link instrumentDogpile} records into, created once per call. */
export interface DogpileMetrics {
  hits: Counter;
  misses: Counter;
  coalesced: Counter;
  staleServed: Counter;
  errors: Counter;
  regenerationDuration: Histogram;
  lockWaitDuration: Histogram;
  circuitTransitions: Counter;
}

/** Creates the dogpile instruments on `meter`. */
export function createMetrics(meter: Meter): DogpileMetrics {
  const duration = (name: string, description: string): Histogram =>
    meter.createHistogram(name, {
      description,
      unit: 'ms',
      advice: { explicitBucketBoundaries: [...durationBucketsMs] },
    });
  return {
    hits: meter.createCounter(metricNames.hits, {
      description: 'getOrCreate calls that found a fresh value.',
      unit: '{call}',
    }),
    misses: meter.createCounter(metricNames.misses, {
      description: 'getOrCreate calls that found no fresh value (stale: a stale one was there).',
      unit: '{call}',
    }),
    coalesced: meter.createCounter(metricNames.coalesced, {
      description: 'getOrCreate calls served the value another caller of this process created.',
      unit: '{call}',
    }),
    staleServed: meter.createCounter(metricNames.staleServed, {
      description: 'Callers served a stale value while the key regenerates.',
      unit: '{call}',
    }),
    errors: meter.createCounter(metricNames.errors, {
      description: 'Creators that threw, and errors a fail-safe path absorbed.',
      unit: '{error}',
    }),
    regenerationDuration: duration(
      metricNames.regenerationDuration,
      'How long each creator ran, by the region clock.',
    ),
    lockWaitDuration: duration(
      metricNames.lockWaitDuration,
      "How long callers waited for a key's creation lock, by the region clock.",
    ),
    circuitTransitions: meter.createCounter(metricNames.circuitTransitions, {
      description: 'Circuit breaker state changes.',
      unit: '{transition}',
    }),
  };
}
