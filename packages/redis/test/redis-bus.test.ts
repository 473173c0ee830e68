import { randomUUID } from 'node:crypto';
import { ValidationError } from '@dogpile/core';
import { startRedis } from '@dogpile/test-servers';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisBus, type RedisBusListener, type RedisBusMessage } from '../src/index.js';
import { eventually, makeBackend, noServers, standalone } from './helpers.js';

function recorder() {
  const messages: RedisBusMessage[] = [];
  const events: string[] = [];
  const listener: RedisBusListener = {
    onMessage: (m) => messages.push(m),
    onDisconnect: () => events.push('disconnect'),
    onReconnect: () => events.push('reconnect'),
  };
  return { messages, events, listener };
}

describe('RedisBus options', () => {
  it('refuses a missing client, a bad channel and unknown options', () => {
    const client = new Redis({ lazyConnect: true });
    for (const options of [{}, { client: {} }, { client, channel: '' }, { client, topic: 'x' }]) {
      expect(() => new RedisBus(options as never), JSON.stringify(Object.keys(options))).toThrow(
        ValidationError,
      );
    }
    client.disconnect();
  });
});

describe.skipIf(noServers)('RedisBus', () => {
  it('delivers published messages to every subscriber, ignoring foreign ones', async () => {
    const channel = `bus:${randomUUID()}`;
    const a = new RedisBus({ client: makeBackend(standalone).client, channel });
    const b = new RedisBus({ client: makeBackend(standalone).client, channel });
    const ra = recorder();
    const rb = recorder();
    const stopA = await a.subscribe(ra.listener);
    const stopB = await b.subscribe(rb.listener);
    try {
      await a.publish({ origin: 'a', keys: ['k1', 'k2'] });
      await standalone.raw().publish(channel, 'not json');
      await b.publish({ origin: 'b', all: true });
      await eventually(() => ra.messages.length === 2 && rb.messages.length === 2, 2000);
      expect(rb.messages).toEqual([
        { origin: 'a', keys: ['k1', 'k2'] },
        { origin: 'b', all: true },
      ]);
      expect(ra.messages).toEqual(rb.messages);
    } finally {
      await stopA();
      await stopB();
    }
  });

  it('tells its listener when the subscriber connection drops and when it is subscribed again', async () => {
    const server = await startRedis();
    const raw = new Redis(server.url);
    try {
      const channel = `bus:${randomUUID()}`;
      const bus = new RedisBus({ client: new Redis(server.url), channel });
      const r = recorder();
      const stop = await bus.subscribe(r.listener);
      await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await eventually(() => r.events.join(',') === 'disconnect,reconnect', 5000);
      // Subscribed again: messages arrive.
      await bus.publish({ origin: 'x', keys: ['after'] });
      await eventually(() => r.messages.length === 1, 2000);
      await stop();
      await bus.client.quit();
    } finally {
      await raw.quit();
      await server.stop();
    }
  }, 20_000);
});
