import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ErrorEvent } from '@dogpile/core';
import memjs from 'memjs';
import { afterAll, afterEach, inject } from 'vitest';
import { MemcachedBackend, type MemcachedBackendOptions } from '../src/index.js';

/** Why the server-backed suites skip ('' when they run); the global setup printed it loudly. */
export const skipReason = inject('skipReason');
export const noServers = skipReason !== '';

/** A set of servers the suites run against: the shared single server or the shared trio. */
export interface Target {
  readonly name: 'one server' | 'three servers';
  /** The `servers` option for this target. */
  readonly servers: () => string;
  /** A raw memjs client to inspect the servers with (same key placement), closed after the file. */
  raw(): memjs.Client;
}

const rawClients: memjs.Client[] = [];
afterAll(() => {
  for (const client of rawClients.splice(0)) client.close();
});

function lazyRaw(servers: () => string): () => memjs.Client {
  let client: memjs.Client | undefined;
  return () => {
    if (!client) {
      client = memjs.Client.create(servers(), { logger: { log() {} }, retries: 1 });
      rawClients.push(client);
    }
    return client;
  };
}

export const single: Target = {
  name: 'one server',
  servers: () => inject('memcachedServer'),
  raw: lazyRaw(() => inject('memcachedServer')),
};

export const trio: Target = {
  name: 'three servers',
  servers: () => inject('memcachedTrio'),
  raw: lazyRaw(() => inject('memcachedTrio')),
};

export const targets: readonly Target[] = [single, trio];

/** A random key prefix, so test files sharing a server never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

/** Backends made with {@link makeBackend}, closed after each test. */
const backends: MemcachedBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()));
});

/** A backend on `target` (or on `servers`), closed after the current test. */
export function makeBackend(
  target: Target | string,
  options: MemcachedBackendOptions = {},
): MemcachedBackend {
  const servers = typeof target === 'string' ? target : target.servers();
  const backend = new MemcachedBackend({ servers, ...options });
  backends.push(backend);
  return backend;
}

export { eventually, sleep } from '@dogpile/test-servers';

/**
 * Collects what is published on `dogpile:error` until the returned `stop()` is called (the
 * subscription also keeps reportError from turning the events into process warnings).
 */
export function captureErrors(): { events: ErrorEvent[]; stop(): void } {
  const events: ErrorEvent[] = [];
  const listener = (message: unknown) => {
    events.push(message as ErrorEvent);
  };
  subscribe('dogpile:error', listener);
  return {
    events,
    stop: () => {
      unsubscribe('dogpile:error', listener);
    },
  };
}
