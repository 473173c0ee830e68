import type { Cluster, Redis } from 'ioredis';

const RETRY_SUBSCRIBE_AFTER_MS = 1000;

/**
 * Wakes lock waiters of this process when a lock is released anywhere: releases publish the lock
 * key on one channel, and one subscriber connection per backend (opened on the first wait, not
 * before) hands each message to the waiters of that key. Losing a message (a reconnect, a holder
 * that does not publish) only costs the waiters their next poll.
 */
export class LockNotifier {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #channel: string;
  readonly #openSubscriber: () => Redis | Cluster;
  readonly #onError: (error: unknown) => void;
  #subscriber: Redis | Cluster | undefined;
  #ready: Promise<void> | undefined;
  #failedAt = 0;
  #closed = false;
  #subscribed = false;

  /**
   * @param channel the channel releases publish on.
   * @param openSubscriber opens a new connection for SUBSCRIBE (which takes a connection over).
   * @param onError told when subscribing fails (waiters then poll until a later retry works).
   */
  constructor(
    channel: string,
    openSubscriber: () => Redis | Cluster,
    onError: (error: unknown) => void,
  ) {
    this.#channel = channel;
    this.#openSubscriber = openSubscriber;
    this.#onError = onError;
  }

  /** Calls `wake` whenever `redisKey` is released, until the returned function is called. */
  register(redisKey: string, wake: () => void): () => void {
    let set = this.#waiters.get(redisKey);
    if (!set) {
      set = new Set();
      this.#waiters.set(redisKey, set);
    }
    set.add(wake);
    return () => {
      const current = this.#waiters.get(redisKey);
      if (!current) return;
      current.delete(wake);
      if (current.size === 0) this.#waiters.delete(redisKey);
    };
  }

  /**
   * Whether releases are being heard right now: subscribed, and the subscriber connection is up.
   * Waiters poll slowly while this holds and quickly while it does not.
   */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  /**
   * Resolves once the subscription is active, so a release after this point is not missed. Never
   * rejects: without a subscription the waiters still poll.
   */
  ready(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#ready) return this.#ready;
    if (this.#failedAt !== 0 && Date.now() - this.#failedAt < RETRY_SUBSCRIBE_AFTER_MS)
      return Promise.resolve();
    this.#ready = this.#subscribe();
    return this.#ready;
  }

  async #subscribe(): Promise<void> {
    let subscriber: Redis | Cluster | undefined;
    try {
      subscriber = this.#openSubscriber();
      this.#subscriber = subscriber;
      // Errors also reach the subscribe() call below; this listener keeps ioredis from printing
      // every reconnect attempt as an unhandled error.
      subscriber.on('error', () => {});
      // ioredis subscribes again when it reconnects; releases published in between are lost.
      subscriber.on('close', () => {
        this.#subscribed = false;
      });
      subscriber.on('ready', () => {
        if (this.#subscriber === subscriber && this.#ready !== undefined) this.#subscribed = true;
      });
      subscriber.on('message', (channel: string, message: string) => {
        if (channel !== this.#channel) return;
        const set = this.#waiters.get(message);
        if (set) for (const wake of [...set]) wake();
      });
      await subscriber.subscribe(this.#channel);
      this.#failedAt = 0;
      this.#subscribed = true;
    } catch (error) {
      this.#failedAt = Date.now();
      this.#ready = undefined;
      this.#subscribed = false;
      if (this.#subscriber === subscriber) this.#subscriber = undefined;
      subscriber?.disconnect();
      if (!this.#closed) this.#onError(error);
    }
  }

  /** Wakes every waiter (they see the backend closed) and closes the subscriber connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed = false;
    for (const set of [...this.#waiters.values()]) for (const wake of [...set]) wake();
    this.#waiters.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) subscriber.disconnect();
  }
}
