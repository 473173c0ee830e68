import { DogpileError } from '@dogpile/core';

const SYSTEM_CODE = /^E[A-Z0-9_]{1,40}$/;

/**
 * A low-cardinality code for an error: a `DogpileError`'s stable `code`, or a Node system error's
 * (`ECONNREFUSED`, `ETIMEDOUT`, ...); `undefined` for anything else, whose codes (if any) may be
 * unbounded.
 */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof DogpileError) return error.code;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && SYSTEM_CODE.test(code)) return code;
  }
  return undefined;
}
