import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { HitEvent, MissEvent, RegenerationEndEvent } from '../src/index.js';

/** Upper bounds (ms) of the regeneration-time histogram's buckets, as Prometheus `le` labels. */
const BUCKETS_MS = [5, 10, 50, 100, 500, 1000, 5000, Number.POSITIVE_INFINITY];

export function collectCacheMetrics() {
  const metrics = {
    hits: new Map<string, number>(), // by region
    misses: new Map<string, number>(),
    regenerations: {
      buckets: BUCKETS_MS.map((le) => ({ le, count: 0 })), // cumulative, as Prometheus does
      count: 0,
      sumMs: 0,
      failures: 0,
    },
  };
  const count = (counts: Map<string, number>, region: string) =>
    counts.set(region, (counts.get(region) ?? 0) + 1);

  const onHit = (message: unknown) => count(metrics.hits, (message as HitEvent).region);
  const onMiss = (message: unknown) => count(metrics.misses, (message as MissEvent).region);
  const onRegenerated = (message: unknown) => {
    const { durationMs, ok } = message as RegenerationEndEvent;
    const histogram = metrics.regenerations;
    for (const bucket of histogram.buckets) if (durationMs <= bucket.le) bucket.count++;
    histogram.count++;
    histogram.sumMs += durationMs;
    if (!ok) histogram.failures++;
  };

  subscribe('dogpile:hit', onHit);
  subscribe('dogpile:miss', onMiss);
  subscribe('dogpile:regeneration:end', onRegenerated);
  return {
    metrics,
    stop() {
      unsubscribe('dogpile:hit', onHit);
      unsubscribe('dogpile:miss', onMiss);
      unsubscribe('dogpile:regeneration:end', onRegenerated);
    },
  };
}
