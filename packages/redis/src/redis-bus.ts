import { reportError, ValidationError } from '@dogpile/core';
import type { Cluster, Redis } from 'ioredis';
import { toRedisError } from './errors.js';

/**
 * A message on the bus: the keys whose value changed, or `all`. The same shape as
 * `InvalidationMessage` of `@dogpile/proxies` (this package does not depend on it).
 */
export interface RedisBusMessage {
  origin: string;
  keys?: string[];
  all?: boolean;
}

/** What the bus tells its subscriber; the same shape as `@dogpile/proxies`' `InvalidationListener`. */
export interface RedisBusListener {
  onMessage(message: RedisBusMessage): void;
  onDisconnect(): void;
  onReconnect(): void;
}

/**
 * Options of {@link RedisBus}.
 *
 * @example
 * new RedisBus({ client: redisBackend.client, channel: 'myapp:invalidate' })
 */
export interface RedisBusOptions {
  /**
   * The ioredis client (standalone or Cluster) to publish with, such as a `RedisBackend`'s
   * `client`. The bus opens one more connection from it (`duplicate()`) to subscribe, and closes
   * only that one. Required.
   */
  client: Redis | Cluster;
  /** The pub/sub channel. Processes that share an L2 must use the same one. Default: `'dogpile:invalidate'`. */
  channel?: string;
}

const KNOWN = ['client', 'channel'];

/**
 * An invalidation bus over Redis pub/sub, for `TieredProxy` of `@dogpile/proxies`: every change
 * to a key is published on `channel`, and every process's L1 drops that key. It publishes on the
 * connection you already have and subscribes on one more. When the subscriber connection drops,
 * listeners are told (they stop using L1), and when it is back and subscribed again they are told
 * to flush, since messages sent in between are lost.
 *
 * @example
 * const redis = new RedisBackend({ url, distributedLock: true });
 * const bus = new RedisBus({ client: redis.client });
 * region.configure(redis, { wrap: [new TieredProxy({ bus, l1MaxAge: '5s' })] });
 */
export class RedisBus {
  readonly client: Redis | Cluster;
  readonly channel: string;
  readonly #listeners = new Set<RedisBusListener>();
  #subscriber: Redis | Cluster | undefined;
  #subscribing: Promise<void> | undefined;
  /** The subscriber connection dropped since it was last subscribed. */
  #lost = false;
  #closed = false;

  constructor(options: RedisBusOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ValidationError('RedisBus takes an options object: { client }.');
    }
    const unknown = Object.keys(options).filter((name) => !KNOWN.includes(name));
    if (unknown.length > 0) {
      throw new ValidationError(
        `RedisBus got unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}. Known options: ${KNOWN.join(', ')}.`,
      );
    }
    const client = options.client;
    if (
      client === null ||
      typeof client !== 'object' ||
      typeof client.publish !== 'function' ||
      typeof client.duplicate !== 'function'
    ) {
      throw new ValidationError(
        'RedisBus needs client: an ioredis client, such as the client of a RedisBackend.',
      );
    }
    const channel = options.channel ?? 'dogpile:invalidate';
    if (typeof channel !== 'string' || channel === '') {
      throw new ValidationError('RedisBus channel must be a non-empty string.');
    }
    this.client = client;
    this.channel = channel;
  }

  /** Publishes `message` to every process subscribed to the channel. */
  async publish(message: RedisBusMessage): Promise<void> {
    if (this.#closed) return;
    try {
      await this.client.publish(this.channel, JSON.stringify(message));
    } catch (error) {
      throw toRedisError(error, 'the bus', `PUBLISH ${this.channel}`);
    }
  }

  /** Delivers messages to `listener` from now on; resolves once subscribed. */
  async subscribe(listener: RedisBusListener): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    try {
      await this.#ensureSubscribed();
    } catch (error) {
      this.#listeners.delete(listener);
      throw error;
    }
    return async () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) await this.close();
    };
  }

  #ensureSubscribed(): Promise<void> {
    if (this.#subscribing === undefined) {
      this.#subscribing = this.#open().catch((error: unknown) => {
        this.#subscribing = undefined;
        throw toRedisError(error, 'the bus', `SUBSCRIBE ${this.channel}`);
      });
    }
    return this.#subscribing;
  }

  async #open(): Promise<void> {
    const subscriber = this.client.duplicate() as Redis | Cluster;
    this.#subscriber = subscriber;
    // Reconnect attempts are expected; the listeners hear about them through onDisconnect.
    subscriber.on('error', () => {});
    subscriber.on('close', () => {
      if (this.#subscriber !== subscriber || this.#lost) return;
      this.#lost = true;
      for (const listener of this.#listeners) listener.onDisconnect();
    });
    subscriber.on('ready', () => {
      if (this.#subscriber !== subscriber || !this.#lost) return;
      // Subscribed again (ioredis resubscribes; asking again makes sure it took), then flush.
      subscriber.subscribe(this.channel).then(
        () => {
          if (this.#subscriber !== subscriber || this.#closed) return;
          this.#lost = false;
          for (const listener of this.#listeners) listener.onReconnect();
        },
        (error: unknown) =>
          reportError({
            operation: 'busSubscribe',
            error: toRedisError(error, 'the bus', `SUBSCRIBE ${this.channel}`),
          }),
      );
    });
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let message: RedisBusMessage;
      try {
        message = JSON.parse(text);
      } catch {
        return; // Not ours: someone else publishing on the channel.
      }
      if (message === null || typeof message !== 'object') return;
      for (const listener of this.#listeners) listener.onMessage(message);
    });
    try {
      await subscriber.subscribe(this.channel);
    } catch (error) {
      this.#subscriber = undefined;
      subscriber.disconnect();
      throw error;
    }
  }

  /** Closes the subscriber connection (the client it publishes with stays open). */
  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#listeners.clear();
    if (subscriber) subscriber.disconnect();
  }
}
