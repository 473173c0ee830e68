import { registerBackend } from '@dogpile/core';
import type { SqliteBackendOptions } from './options.js';
import { SqliteBackend } from './sqlite-backend.js';

/** @deprecated The SQLite lock is core's `LeaseMutex` over a {@link SqliteLeaseStore}; this is its old name. */
export { LeaseMutex as SqliteMutex } from '@dogpile/core';
export { SqliteBackendError, type SqliteBackendErrorCode } from './errors.js';
export type {
  SqliteBackendOptions,
  SqliteDatabase,
  SqliteSynchronous,
} from './options.js';
export { SqliteBackend } from './sqlite-backend.js';
export { SqliteLeaseStore } from './sqlite-lease-store.js';

registerBackend('sqlite', (args) => new SqliteBackend(args as SqliteBackendOptions));
