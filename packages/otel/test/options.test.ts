import { ValidationError } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { type InstrumentDogpileOptions, instrumentDogpile } from '../src/index.js';

describe('instrumentDogpile options', () => {
  it('rejects an unknown option, listing the known ones', () => {
    const bad = { meterProvider: undefined, span: false } as unknown as InstrumentDogpileOptions;
    expect(() => instrumentDogpile(bad)).toThrow(ValidationError);
    expect(() => instrumentDogpile(bad)).toThrow(
      'unknown option span. Known options: meterProvider, tracerProvider, spans',
    );
  });

  it('rejects values of the wrong kind', () => {
    const cases: unknown[] = [
      { spans: 'yes' },
      { meterProvider: {} },
      { tracerProvider: { getMeter() {} } },
      null,
      [],
      'spans',
    ];
    for (const options of cases) {
      expect(() => instrumentDogpile(options as InstrumentDogpileOptions)).toThrow(ValidationError);
    }
  });

  it('uses the global providers when none is given (no-op until an SDK registers)', () => {
    const otel = instrumentDogpile();
    otel.stop();
    instrumentDogpile({ spans: false }).stop();
  });
});
