import { makeRegion } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { regenerationSpanName } from '../src/index.js';
import { harness } from './otel-harness.js';

afterEach(() => {
  context.disable();
});

describe('the dogpile.regenerate span with a context manager', () => {
  it("is a child of the caller's active span", async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const h = harness();
    const tracer = h.tracerProvider.getTracer('app');
    const region = makeRegion({ name: 'r' }).configure(new MemoryBackend());
    await tracer.startActiveSpan('request', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      await region.getOrCreate('k', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return 'v';
      });
      request.end();
    });
    const spans = h.spans();
    const request = spans.find((s) => s.name === 'request');
    const regenerate = spans.find((s) => s.name === regenerationSpanName);
    expect(request).toBeDefined();
    expect(regenerate?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(regenerate?.spanContext().traceId).toBe(request?.spanContext().traceId);
  });
});
