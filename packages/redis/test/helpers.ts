import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ErrorEvent } from '@dogpile/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, inject } from 'vitest';
import { RedisBackend, type RedisBackendOptions } from '../src/index.js';

/** Why the server-backed suites skip ('' when they run); the global setup printed it loudly. */
export const skipReason = inject('skipReason');
export const noServers = skipReason !== '';

/** A server the suites run against: the shared standalone server or the shared Cluster. */
export interface Target {
  readonly name: 'standalone' | 'cluster';
  /** Options that connect a {@link RedisBackend} to this target. */
  connection(): RedisBackendOptions;
  /** A raw ioredis client to inspect the server with, closed after the file. */
  raw(): Redis | Cluster;
}

const rawClients: Array<Redis | Cluster> = [];
afterAll(async () => {
  await Promise.all(
    rawClients.splice(0).map((client) => client.quit().catch(() => client.disconnect())),
  );
});

function lazyRaw(make: () => Redis | Cluster): () => Redis | Cluster {
  let client: Redis | Cluster | undefined;
  return () => {
    if (!client) {
      client = make();
      rawClients.push(client);
    }
    return client;
  };
}

export const standalone: Target = {
  name: 'standalone',
  connection: () => ({ url: inject('redisUrl') }),
  raw: lazyRaw(() => new Redis(inject('redisUrl'))),
};

export const cluster: Target = {
  name: 'cluster',
  connection: () => ({ startupNodes: inject('clusterNodes') }),
  raw: lazyRaw(() => new Cluster(inject('clusterNodes'))),
};

export const targets: readonly Target[] = [standalone, cluster];

/** A random key prefix, so test files sharing a server never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

/** Backends made with {@link makeBackend}, closed after each test. */
const backends: RedisBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((backend) => backend.close()));
});

/** A backend on `target`, closed after the current test. */
export function makeBackend(target: Target, options: RedisBackendOptions = {}): RedisBackend {
  const backend = new RedisBackend({ ...target.connection(), ...options });
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
