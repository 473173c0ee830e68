import {
  type CacheBackend,
  CachedValue,
  DogpileError,
  isNoValue,
  type NoValue,
  VALUE_VERSION,
} from '@dogpile/core';
import { expect } from 'vitest';

/** A value with metadata as the region writes it, plus an extra field a backend must keep. */
export function cachedValue<T>(payload: T, ct = Date.now() / 1000): CachedValue<T> {
  // Extra fields must come back as they were: regions store their own (`et`, tags in `tg`) there.
  return new CachedValue(payload, {
    ct,
    v: VALUE_VERSION,
    conformance: 'extra metadata is kept',
    tg: ['conformance:tag'],
  });
}

/** Asserts that `got` is a value equal to `expected`, payload and metadata. */
export function expectValue(got: CachedValue | NoValue, expected: CachedValue, what: string): void {
  expect(isNoValue(got), `${what}: read NO_VALUE, expected the stored value`).toBe(false);
  const value = got as CachedValue;
  expect(value, `${what}: not a CachedValue-shaped object`).toHaveProperty('metadata');
  expect(value.payload, `${what}: payload`).toStrictEqual(expected.payload);
  expect({ ...value.metadata }, `${what}: metadata`).toStrictEqual({ ...expected.metadata });
}

export function expectMiss(got: unknown, what: string): void {
  expect(isNoValue(got), `${what}: expected NO_VALUE, got ${describeValue(got)}`).toBe(true);
}

export function describeValue(value: unknown): string {
  if (isNoValue(value)) return 'NO_VALUE';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value instanceof CachedValue) return `CachedValue(${short(value.payload)})`;
  return short(value);
}

function short(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Asserts that `error` is a `DogpileError` with a code, the only acceptable way to refuse input. */
export function expectDogpileError(error: unknown, what: string): void {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  expect(
    error instanceof DogpileError && typeof error.code === 'string' && error.code !== '',
    `${what}: failed with ${detail}; a backend that refuses input must throw a DogpileError subclass with a code`,
  ).toBe(true);
}

/** Runs `fn`, returning the error it throws, or `undefined`. */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Both byte arrays hold the same bytes (a `Buffer` is fine). */
export function expectBytes(got: Uint8Array | NoValue, expected: Uint8Array, what: string): void {
  expect(
    got instanceof Uint8Array,
    `${what}: expected a Uint8Array, got ${describeValue(got)}`,
  ).toBe(true);
  const bytes = got as Uint8Array;
  expect(bytes.length, `${what}: length`).toBe(expected.length);
  expect(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(expected),
    `${what}: bytes differ`,
  ).toBe(true);
}

/** A `CacheBackend`'s basic shape, so a wrong factory fails with a clear message. */
export function expectBackendShape(backend: CacheBackend): void {
  for (const method of [
    'get',
    'set',
    'delete',
    'getMulti',
    'setMulti',
    'deleteMulti',
    'getMutex',
    'close',
  ]) {
    expect(
      typeof (backend as unknown as Record<string, unknown>)[method],
      `backend.${method}`,
    ).toBe('function');
  }
}
