import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type CoalescedEvent,
  channelNames,
  type ErrorEvent,
  type HitEvent,
  type LockWaitEvent,
  type MissEvent,
  type RegenerationEndEvent,
  type RegenerationStartEvent,
  type StaleServedEvent,
} from '@dogpile/core';
import { type Attributes, diag, metrics, trace } from '@opentelemetry/api';
import { createMetrics } from './dogpile-metrics.js';
import { errorCode } from './error-code.js';
import { attributeNames, circuitChannelName, instrumentationScope } from './names.js';
import { type InstrumentDogpileOptions, resolveOptions } from './options.js';
import { RegenerationSpans } from './regeneration-spans.js';

/** What {@link instrumentDogpile} returns. */
export interface DogpileInstrumentation {
  /**
   * Unsubscribes from every channel: nothing more is recorded, and spans still open are ended.
   * Calling it again does nothing.
   */
  stop(): void;
}

/** A circuit breaker's state change, as `@dogpile/proxies` publishes it on `dogpile:circuit`. */
interface CircuitEvent {
  name: string;
  from: string;
  to: string;
}

/**
 * Records every region's `node:diagnostics_channel` events (and circuit breakers' state changes)
 * as OpenTelemetry metrics, and each regeneration as a `dogpile.regenerate` span, until `stop()`.
 * Call it once per process, at start-up; each call records on its own.
 *
 * @example
 * const otel = instrumentDogpile({ meterProvider, tracerProvider });
 * // ... on shutdown:
 * otel.stop();
 */
export function instrumentDogpile(options?: InstrumentDogpileOptions): DogpileInstrumentation {
  const resolved = resolveOptions(options);
  const meter = (resolved.meterProvider ?? metrics.getMeterProvider()).getMeter(
    instrumentationScope,
  );
  const m = createMetrics(meter);
  const spans = resolved.spans
    ? new RegenerationSpans(
        (resolved.tracerProvider ?? trace.getTracerProvider()).getTracer(instrumentationScope),
      )
    : undefined;
  // A creator that threw is counted at its regeneration's end; when a fail-safe path then
  // reports the same error (staleIfError, a background refresh), it is not counted twice.
  let counted = new WeakSet<object>();

  const region = (event: { region?: string | undefined }): Attributes =>
    event.region === undefined ? {} : { [attributeNames.region]: event.region };
  const countError = (operation: string, error: unknown, attributes: Attributes): void => {
    const code = errorCode(error);
    m.errors.add(1, {
      ...attributes,
      [attributeNames.operation]: operation,
      ...(code === undefined ? {} : { [attributeNames.errorCode]: code }),
    });
  };

  const handlers: Record<string, (message: unknown) => void> = {
    [channelNames.hit]: (message) => m.hits.add(1, region(message as HitEvent)),
    [channelNames.miss]: (message) => {
      const event = message as MissEvent;
      m.misses.add(1, { ...region(event), [attributeNames.stale]: event.stale });
    },
    [channelNames.coalesced]: (message) => m.coalesced.add(1, region(message as CoalescedEvent)),
    [channelNames.staleServed]: (message) => {
      const event = message as StaleServedEvent;
      m.staleServed.add(1, { ...region(event), [attributeNames.handedOver]: event.handedOver });
    },
    [channelNames.regenerationStart]: (message) => {
      spans?.start(message as RegenerationStartEvent);
    },
    [channelNames.regenerationEnd]: (message) => {
      const event = message as RegenerationEndEvent;
      const attributes: Attributes = {
        ...region(event),
        [attributeNames.reason]: event.reason,
        [attributeNames.background]: event.background,
      };
      m.regenerationDuration.record(Math.max(0, event.durationMs), {
        ...attributes,
        [attributeNames.ok]: event.ok,
      });
      if (!event.ok) {
        countError('creator', event.error, region(event));
        if (typeof event.error === 'object' && event.error !== null) counted.add(event.error);
      }
      spans?.end(event);
    },
    [channelNames.lockWait]: (message) => {
      const event = message as LockWaitEvent;
      m.lockWaitDuration.record(Math.max(0, event.durationMs), {
        ...region(event),
        [attributeNames.remote]: event.remote === true,
      });
    },
    [channelNames.error]: (message) => {
      const event = message as ErrorEvent;
      const { error } = event;
      if (typeof error === 'object' && error !== null && counted.has(error)) return;
      countError(event.operation, error, region(event));
    },
    [circuitChannelName]: (message) => {
      const event = message as CircuitEvent;
      m.circuitTransitions.add(1, {
        [attributeNames.circuitName]: event.name,
        [attributeNames.circuitFrom]: event.from,
        [attributeNames.circuitTo]: event.to,
      });
    },
  };

  // A subscriber that throws would become an uncaught exception in the application (that is what
  // diagnostics_channel does with it): a failure to record is logged through OpenTelemetry's own
  // diagnostics, once, and the event dropped.
  let warned = false;
  const subscribed = Object.entries(handlers).map(([name, handler]) => {
    const guarded = (message: unknown): void => {
      try {
        handler(message);
      } catch (error) {
        if (warned) return;
        warned = true;
        diag.error(
          `@dogpile/otel could not record a ${name} event; later failures are not logged.`,
          error,
        );
      }
    };
    subscribe(name, guarded);
    return [name, guarded] as const;
  });
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      for (const [name, handler] of subscribed) unsubscribe(name, handler);
      spans?.endAll();
      counted = new WeakSet();
    },
  };
}
