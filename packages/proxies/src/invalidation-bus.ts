/**
 * A message on an {@link InvalidationBus}: drop these keys from L1 (or everything).
 */
export interface InvalidationMessage {
  /** The id of the `TieredProxy` that sent it; a proxy ignores its own messages. */
  origin: string;
  /** Backend keys (after the key mangler) whose value changed. */
  keys?: string[];
  /** Drop every key. */
  all?: boolean;
}

/** What a bus tells its subscriber. */
export interface InvalidationListener {
  /** A message from another process (or another proxy of this one). */
  onMessage(message: InvalidationMessage): void;
  /**
   * The bus lost its connection: messages may be lost from now on, until `onReconnect`. The
   * tiered proxy stops serving and filling L1 meanwhile.
   */
  onDisconnect(): void;
  /**
   * The bus is receiving again, after a gap in which messages may have been lost: the tiered
   * proxy flushes L1. Call it only once the subscription is in place again.
   */
  onReconnect(): void;
}

/**
 * Carries invalidations between the L1s of processes sharing an L2. `RedisBus` in
 * `@dogpile/redis` is one (Redis pub/sub); {@link MemoryBus} links proxies in one process. Any
 * broadcast channel works: implement these two methods.
 *
 * Delivery may be lost; the tiered proxy bounds the staleness that causes with `l1MaxAge` and
 * flushes L1 when the bus reconnects.
 */
export interface InvalidationBus {
  /** Sends `message` to every subscriber (including, possibly, the sender). */
  publish(message: InvalidationMessage): Promise<void>;
  /**
   * Starts delivering messages to `listener`; resolves once subscribed. Returns the function that
   * stops it.
   */
  subscribe(listener: InvalidationListener): Promise<() => Promise<void>>;
}
