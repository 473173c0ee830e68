import { mutexSuite } from '@dogpile/conformance';
import type { AcquireOptions, CacheMutex } from '@dogpile/core';
import { MapBackend } from '../fixtures/map-backend.js';

/**
 * The flaw of seed 001's AsyncRedisLock: locks expire after a TTL, but release() deletes the
 * lock whoever holds it now, so a holder that outlived its TTL frees the next owner's lock.
 */
class CarelessMutex implements CacheMutex {
  constructor(
    private readonly locks: Map<string, number>,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(wait = true, { signal }: AcquireOptions = {}): Promise<boolean> {
    for (;;) {
      signal?.throwIfAborted();
      const expiresAt = this.locks.get(this.key);
      if (expiresAt === undefined || expiresAt <= Date.now()) {
        this.locks.set(this.key, Date.now() + this.ttlMs);
        return true;
      }
      if (!wait) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  async release(): Promise<void> {
    this.locks.delete(this.key);
  }
  async locked(): Promise<boolean> {
    const expiresAt = this.locks.get(this.key);
    return expiresAt !== undefined && expiresAt > Date.now();
  }
}

class CarelessBackend extends MapBackend {
  readonly #locks = new Map<string, number>();
  constructor(private readonly ttlMs: number) {
    super();
  }
  override getMutex(key: string): CacheMutex {
    return new CarelessMutex(this.#locks, key, this.ttlMs);
  }
}

mutexSuite({
  name: 'careless release',
  createBackend: (hints) => new CarelessBackend(hints.lockTtlMs ?? 30_000),
  capabilities: { serialized: true, mutex: 'local', lockTtlMs: 300 },
});
