import { registerBackend } from '@dogpile/core';
import { MemoryBackend } from './memory-backend.js';
import type { MemoryBackendOptions } from './options.js';

// Importing the package makes `configure('memory')` and `configureFromConfig` find it by name.
registerBackend('memory', (args) => new MemoryBackend(args as MemoryBackendOptions));
registerBackend(
  'memory_pickle',
  (args) => new MemoryBackend({ serialize: true, ...(args as MemoryBackendOptions) }),
);
