import { mutexSuite } from '@dogpile/conformance';
import type { AcquireOptions, CacheMutex } from '@dogpile/core';
import { MapBackend } from '../fixtures/map-backend.js';

/**
 * A mutex whose waitForRelease() never notices a release: it answers for a free lock and honours
 * its signal, but a waiter that starts while the lock is held waits for ever.
 */
class DeafWaitBackend extends MapBackend {
  override getMutex(key: string): CacheMutex {
    const mutex = super.getMutex(key)!;
    const waitForRelease = async (options: AcquireOptions = {}) => {
      if (!(await mutex.locked())) return true;
      return new Promise<boolean>((_, reject) => {
        options.signal?.addEventListener('abort', () => reject(options.signal!.reason), {
          once: true,
        });
      });
    };
    return Object.assign(mutex, { waitForRelease });
  }
}

mutexSuite({
  name: 'deaf waitForRelease',
  createBackend: () => new DeafWaitBackend(),
  capabilities: { serialized: true, mutex: 'local' },
});
