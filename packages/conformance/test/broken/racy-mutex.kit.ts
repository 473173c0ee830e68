import { mutexSuite, regionSuite } from '@dogpile/conformance';
import { type AcquireOptions, type CacheMutex, NO_VALUE } from '@dogpile/core';
import { MapBackend } from '../fixtures/map-backend.js';

/**
 * A mutex that does not exclude: it checks that the lock is free, then takes it one await later
 * (as a store round trip would), so concurrent acquirers all see it free. Used one at a time it
 * behaves perfectly.
 */
class RacyMutex implements CacheMutex {
  #token: symbol | null = null;

  constructor(
    private readonly locks: Map<string, symbol>,
    private readonly key: string,
  ) {}

  async acquire(wait = true, { signal }: AcquireOptions = {}): Promise<boolean> {
    for (;;) {
      signal?.throwIfAborted();
      if (!this.locks.has(this.key)) {
        await Promise.resolve(NO_VALUE);
        this.#token = Symbol(this.key);
        this.locks.set(this.key, this.#token);
        return true;
      }
      if (!wait) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  async release(): Promise<void> {
    if (this.#token !== null && this.locks.get(this.key) === this.#token)
      this.locks.delete(this.key);
    this.#token = null;
  }
  async locked(): Promise<boolean> {
    return this.locks.has(this.key);
  }
}

class RacyMutexBackend extends MapBackend {
  readonly #locks = new Map<string, symbol>();
  override getMutex(key: string): CacheMutex {
    return new RacyMutex(this.#locks, key);
  }
}

const options = {
  name: 'racy mutex',
  createBackend: () => new RacyMutexBackend(),
  capabilities: { serialized: true, mutex: 'local' as const },
};
mutexSuite(options);
regionSuite(options);
