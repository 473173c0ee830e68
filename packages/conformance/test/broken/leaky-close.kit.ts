import { backendSuite } from '@dogpile/conformance';
import { MapBackend } from '../fixtures/map-backend.js';

/** Starts a housekeeping timer and forgets to stop it in close(): the process can never exit. */
class LeakyBackend extends MapBackend {
  readonly timer = setInterval(() => {}, 60_000);
}

backendSuite({
  name: 'leaky close',
  createBackend: () => new LeakyBackend(),
  capabilities: { serialized: true },
});
