import { ValidationError } from '@dogpile/core';
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';

/**
 * Options of {@link instrumentDogpile}.
 *
 * @example
 * instrumentDogpile({ meterProvider, tracerProvider, spans: true })
 */
export interface InstrumentDogpileOptions {
  /**
   * Where the metrics go, e.g. `new MeterProvider({ readers: [...] })` from
   * `@opentelemetry/sdk-metrics`. Default: the global one (`metrics.getMeterProvider()`), which
   * records nothing until an SDK registers itself.
   */
  meterProvider?: MeterProvider;
  /**
   * Where the `dogpile.regenerate` spans go, e.g. a `BasicTracerProvider`. Default: the global
   * one (`trace.getTracerProvider()`).
   */
  tracerProvider?: TracerProvider;
  /**
   * `spans: false` records metrics only, no span per regeneration. Default: `true`.
   */
  spans?: boolean;
}

const KNOWN = ['meterProvider', 'tracerProvider', 'spans'] as const;

/** The checked options, with their defaults filled in (providers stay `undefined`: global). */
export interface ResolvedOptions {
  meterProvider: MeterProvider | undefined;
  tracerProvider: TracerProvider | undefined;
  spans: boolean;
}

/**
 * Checks {@link InstrumentDogpileOptions}: an unknown option or a value of the wrong kind is a
 * `ValidationError` that says what is expected.
 */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined)
    return { meterProvider: undefined, tracerProvider: undefined, spans: true };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValidationError(
      `instrumentDogpile takes an options object; got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}.`,
    );
  }
  const o = options as Record<string, unknown>;
  const unknown = Object.keys(o).filter((name) => !(KNOWN as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new ValidationError(
      `instrumentDogpile got unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}. Known options: ${KNOWN.join(', ')}.`,
    );
  }
  const meterProvider = o.meterProvider;
  if (meterProvider !== undefined && !hasMethod(meterProvider, 'getMeter')) {
    throw new ValidationError(
      'instrumentDogpile meterProvider must be an OpenTelemetry MeterProvider (with getMeter()); leave it out to use the global one.',
    );
  }
  const tracerProvider = o.tracerProvider;
  if (tracerProvider !== undefined && !hasMethod(tracerProvider, 'getTracer')) {
    throw new ValidationError(
      'instrumentDogpile tracerProvider must be an OpenTelemetry TracerProvider (with getTracer()); leave it out to use the global one.',
    );
  }
  const spans = o.spans ?? true;
  if (typeof spans !== 'boolean') {
    throw new ValidationError(
      `instrumentDogpile spans must be true or false; got ${typeof spans}.`,
    );
  }
  return {
    meterProvider: meterProvider as MeterProvider | undefined,
    tracerProvider: tracerProvider as TracerProvider | undefined,
    spans,
  };
}

function hasMethod(value: unknown, name: string): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Record<string, unknown>)[name] === 'function'
  );
}
