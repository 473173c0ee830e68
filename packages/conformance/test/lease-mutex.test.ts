import { runConformance } from '@dogpile/conformance';
import { LeaseMapBackend } from './fixtures/lease-map-backend.js';

// Core's LeaseMutex, which every distributed backend of this project uses, through the whole kit
// over an in-memory lease store (the backends run it again over Redis, SQLite, ...).
runConformance({
  name: 'LeaseMutex over a map',
  createBackend: (hints) => new LeaseMapBackend(hints),
  capabilities: { serialized: true, mutex: 'distributed', lockTtlMs: 500, lockPollMaxMs: 10 },
});
