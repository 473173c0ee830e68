import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ErrorEvent } from '@dogpile/core';
import { inject } from 'vitest';

export const skipReason = inject('skipReason');
export const noRedis = skipReason !== '';
export const redisUrl = (): string => inject('redisUrl');

/** A random key prefix, so files sharing the server never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

/** Collects what is published on `dogpile:error` until `stop()`. */
export function captureErrors(): { events: ErrorEvent[]; stop(): void } {
  const events: ErrorEvent[] = [];
  const listener = (message: unknown) => {
    events.push(message as ErrorEvent);
  };
  subscribe('dogpile:error', listener);
  return { events, stop: () => unsubscribe('dogpile:error', listener) };
}

export { eventually, sleep } from '@dogpile/test-servers';
