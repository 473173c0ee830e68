import type {
  InvalidationBus,
  InvalidationListener,
  InvalidationMessage,
} from './invalidation-bus.js';

/**
 * An {@link InvalidationBus} within one process: links several `TieredProxy`s (each with its own
 * L1) in front of one L2, and serves tests. Delivery is synchronous and never lost.
 *
 * @example
 * const bus = new MemoryBus();
 * const a = new TieredProxy({ bus });
 * const b = new TieredProxy({ bus });
 */
export class MemoryBus implements InvalidationBus {
  readonly #listeners = new Set<InvalidationListener>();

  async publish(message: InvalidationMessage): Promise<void> {
    for (const listener of this.#listeners) listener.onMessage(structuredClone(message));
  }

  async subscribe(listener: InvalidationListener): Promise<() => Promise<void>> {
    this.#listeners.add(listener);
    return async () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tells every subscriber the bus went down (messages lost until {@link reconnect}); for tests. */
  disconnect(): void {
    for (const listener of this.#listeners) listener.onDisconnect();
  }

  /** Tells every subscriber the bus is back; for tests. */
  reconnect(): void {
    for (const listener of this.#listeners) listener.onReconnect();
  }
}
