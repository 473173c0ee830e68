import { mutexSuite } from '@dogpile/conformance';
import type { CacheMutex } from '@dogpile/core';
import { MapBackend } from '../fixtures/map-backend.js';

/**
 * A mutex whose waitForRelease() resolves at once, held or not: a region waiting on it re-reads
 * in a tight loop (hundreds of reads while one creator runs). Its lock itself is correct.
 */
class EagerWaitBackend extends MapBackend {
  override getMutex(key: string): CacheMutex {
    const mutex = super.getMutex(key)!;
    return Object.assign(mutex, { waitForRelease: async () => true });
  }
}

mutexSuite({
  name: 'eager waitForRelease',
  createBackend: () => new EagerWaitBackend(),
  capabilities: { serialized: true, mutex: 'local' },
});
