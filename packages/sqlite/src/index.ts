import { registerBackend } from '@dogpile/core';
import type { SqliteBackendOptions } from './options.js';
import { SqliteBackend } from './sqlite-backend.js';

export { SqliteBackendError, type SqliteBackendErrorCode } from './errors.js';
export type {
  SqliteBackendOptions,
  SqliteDatabase,
  SqliteSynchronous,
} from './options.js';
export { SqliteBackend } from './sqlite-backend.js';
export { SqliteMutex } from './sqlite-mutex.js';

registerBackend('sqlite', (args) => new SqliteBackend(args as SqliteBackendOptions));
