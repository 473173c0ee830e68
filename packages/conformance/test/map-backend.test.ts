import { runConformance } from '@dogpile/conformance';
import { createBackend } from './fixtures/map-backend.js';

runConformance({
  name: 'MapBackend',
  createBackend,
  capabilities: { serialized: true, mutex: 'local' },
  crossProcess: { factoryModule: new URL('./fixtures/map-backend.ts', import.meta.url) },
});
