import { runConformance } from '@dogpile/conformance';
import { MemoryBackend } from '../src/index.js';

// Children build the backend by its registered name: importing the package registers 'memory'
// and 'memory_pickle'.
const registering = new URL('../src/index.ts', import.meta.url);

runConformance({
  name: 'MemoryBackend',
  createBackend: () => new MemoryBackend(),
  capabilities: { mutex: 'local' },
  crossProcess: { registeredBackend: { module: registering, name: 'memory' } },
});

runConformance({
  name: 'MemoryBackend (serialize: true)',
  createBackend: () => new MemoryBackend({ serialize: true }),
  capabilities: { serialized: true, mutex: 'local' },
  crossProcess: { registeredBackend: { module: registering, name: 'memory_pickle' } },
});

runConformance({
  name: 'MemoryBackend (maxEntries: 1000)',
  createBackend: () => new MemoryBackend({ maxEntries: 1000 }),
  capabilities: { mutex: 'local' },
});
