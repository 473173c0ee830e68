import {
  type CachedValue,
  CantDeserializeError,
  deserializeCachedValue,
  NO_VALUE,
} from '@dogpile/core';
import { describe, expect, it } from 'vitest';

// Core reads the common metadata shape `{"ct":<number>,"v":<number>}` without JSON.parse. Whatever
// the bytes, the outcome must be the one JSON.parse gives: the same metadata, the same miss for
// another version, the same CantDeserializeError for bytes that are not this layout. The reference
// below is the plain JSON.parse decoding.

const raw = { serialize: (v: unknown) => v as Uint8Array, deserialize: (b: Uint8Array) => b };
const strict = new TextDecoder('utf-8', { fatal: true });

type Outcome =
  | { kind: 'value'; metadata: unknown; payload: string }
  | { kind: 'none' }
  | { kind: 'error' };
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

function reference(bytes: Uint8Array): Outcome {
  const cut = bytes.indexOf(0x7c);
  if (cut < 0) return { kind: 'error' };
  let metadata: { ct?: unknown; v?: unknown } | null;
  try {
    metadata = JSON.parse(strict.decode(bytes.subarray(0, cut)));
  } catch {
    return { kind: 'error' };
  }
  if (metadata === null || typeof metadata !== 'object' || typeof metadata.ct !== 'number') {
    return { kind: 'error' };
  }
  return metadata.v === 2
    ? { kind: 'value', metadata, payload: latin1(bytes.subarray(cut + 1)) }
    : { kind: 'none' };
}

function actual(bytes: Uint8Array): Outcome {
  try {
    const read = deserializeCachedValue(bytes, raw);
    if (read === NO_VALUE) return { kind: 'none' };
    const value = read as CachedValue;
    return {
      kind: 'value',
      metadata: value.metadata,
      payload: latin1(value.payload as Uint8Array),
    };
  } catch (error) {
    if (error instanceof CantDeserializeError) return { kind: 'error' };
    throw error;
  }
}

function same(bytes: Uint8Array): void {
  const expected = reference(bytes);
  const got = actual(bytes);
  const label = Buffer.from(bytes).toString('latin1');
  expect(got.kind, label).toBe(expected.kind);
  if (got.kind === 'value' && expected.kind === 'value') {
    const a = got.metadata as Record<string, unknown>;
    const b = expected.metadata as Record<string, unknown>;
    expect(got.payload, label).toBe(expected.payload);
    expect(Object.keys(a), label).toEqual(Object.keys(b));
    for (const key of Object.keys(b))
      expect(Object.is(a[key], b[key]), `${label} ${key}`).toBe(true);
  }
}

const enc = (text: string) => new TextEncoder().encode(text);

/** A small seeded generator, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [
  '0',
  '-0',
  '2',
  '1',
  '3',
  '2.0',
  '2e0',
  '20e-1',
  '1700000000',
  '1700000000.5',
  '1700000001.25',
  '1733145600.1234567',
  '-1.5',
  '1e400',
  '-1e400',
  '1E5',
  '1e+5',
  '1e-5',
  '0.1',
  '123456789012345678901234567890',
  '9007199254740993',
  '0.30000000000000004',
  '5e-324',
  '1.7976931348623157e308',
  '9007199254740991',
  '9007199254740992',
  '900719925474099.3',
  '90071992547409.93',
  '-0.0',
  '0.0000000000000000000001',
  '0.00000000000000000000001',
  '1700000000.123',
  '4503599627370497.5',
  '0.1000000000000000055511151231257827',
  // Not JSON numbers: JSON.parse refuses them, Number() would not.
  '01',
  '-',
  '+1',
  '.5',
  '1.',
  '1e',
  '1e+',
  '0x10',
  'Infinity',
  'NaN',
  '',
  ' ',
  '1_0',
  '--1',
  '2.',
  '١',
];

const SHAPES = [
  (ct: string, v: string) => `{"ct":${ct},"v":${v}}`,
  (ct: string, v: string) => `{"ct": ${ct}, "v": ${v}}`,
  (ct: string, v: string) => ` {\t"ct" :\n${ct}\r, "v" : ${v} } `,
  (ct: string, v: string) => `{"v":${v},"ct":${ct}}`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v},"cd":0.5}`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v},"et":30}`,
  (ct: string, v: string) => `{"ct":${ct},"ct":${v}}`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v},}`,
  (ct: string, v: string) => `{"ct":${ct}"v":${v}}`,
  (ct: string, v: string) => `{"ct":"${ct}","v":${v}}`,
  (ct: string, v: string) => `{"ct":${ct},"v":"${v}"}`,
  (ct: string, v: string) => `{"\\u0063t":${ct},"v":${v}}`,
  (ct: string, v: string) => `[${ct},${v}]`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v}}}`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v}`,
  (ct: string, v: string) => `{"ct":${ct},"V":${v}}`,
  (ct: string, v: string) => `{"CT":${ct},"v":${v}}`,
  (ct: string, v: string) => `{"ct":${ct},"v":${v}}\u00a0`,
  (ct: string, v: string) => `\ufeff{"ct":${ct},"v":${v}}`,
];

describe('reading stored metadata (the fast path for the common shape)', () => {
  it('decodes every shape and number exactly as JSON.parse does', () => {
    let checked = 0;
    for (const shape of SHAPES) {
      for (const ct of NUMBERS) {
        for (const v of ['2', '1', '3', '2.0', '-2', '2e0', '02', '', 'null', '"2"', '2.5']) {
          same(enc(`${shape(ct, v)}|payload`));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5000);
  });

  it('reads what this project and Python dogpile.cache write', () => {
    const ours = actual(enc('{"ct":1700000001.25,"v":2}|[1,"two"]'));
    expect(ours).toEqual({
      kind: 'value',
      metadata: { ct: 1700000001.25, v: 2 },
      payload: '[1,"two"]',
    });
    const python = actual(enc('{"ct": 1700000002.5, "v": 2}|{"a": [1, 2]}'));
    expect(python).toEqual({
      kind: 'value',
      metadata: { ct: 1700000002.5, v: 2 },
      payload: '{"a": [1, 2]}',
    });
    expect(actual(enc('{"ct":1,"v":1}|x'))).toEqual({ kind: 'none' });
    expect(actual(enc('{"ct":1,"v":2'))).toEqual({ kind: 'error' });
  });

  it('reads creation times exactly as JSON.parse does, whatever their digits', () => {
    const next = random(7);
    const digits = (count: number) =>
      Array.from({ length: count }, () => Math.floor(next() * 10)).join('');
    for (let n = 0; n < 50_000; n++) {
      const whole = String(Math.floor(next() * 10 ** Math.floor(next() * 17)));
      const ct =
        n % 3 === 0
          ? String(next() * 2e9)
          : n % 3 === 1
            ? `${whole}.${digits(1 + Math.floor(next() * 24))}`
            : `${next() < 0.5 ? '-' : ''}${whole}`;
      same(enc(`{"ct":${ct},"v":2}|x`));
    }
  });

  it('agrees with JSON.parse on corrupted, truncated and foreign bytes', () => {
    const next = random(18);
    const good = enc('{"ct":1733145600.123456,"v":2}|{"id":42}');
    const alphabet = enc('{}":,|-+.eE0123456789 \t\nctvx\u00ff');
    for (let n = 0; n < 20_000; n++) {
      const bytes = good.slice(0, Math.floor(next() * (good.length + 1)));
      const edits = 1 + Math.floor(next() * 3);
      for (let e = 0; e < edits && bytes.length > 0; e++) {
        const at = Math.floor(next() * bytes.length);
        bytes[at] =
          next() < 0.7 ? alphabet[Math.floor(next() * alphabet.length)]! : Math.floor(next() * 256);
      }
      same(bytes);
    }
    // Invalid UTF-8 and non-ASCII bytes inside the metadata.
    same(new Uint8Array([0x7b, 0xff, 0x7d, 0x7c]));
    same(new Uint8Array([...enc('{"ct":1,"v":2'), 0xc3, 0x28, 0x7d, 0x7c]));
    same(enc('|'));
    same(enc('{"ct":1,"v":2} |x'));
    same(enc('{"ct":1,"v":2}x|x'));
    same(enc('{"ct":1,"v":2}||x'));
    same(enc('{"ct":1,"v":2}'));
    same(enc('{"ct":1,"v":2} '));
    same(enc('{"ct":1,"v":2|}|x'));
    same(enc('{"ct":1|,"v":2}|x'));
    same(enc('{"ct":1,"v":2}'));
  });
});
