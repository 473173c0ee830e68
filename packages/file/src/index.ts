import { registerBackend } from '@dogpile/core';
import { FileBackend } from './file-backend.js';
import type { FileBackendOptions } from './options.js';

/**
 * The mutex of {@link FileLocks.mutex}, {@link FileBackend.getMutex} and {@link withFileLocks}:
 * core's `LeaseMutex` over a {@link FileLeaseStore}.
 */
export { LeaseMutex as FileLockMutex } from '@dogpile/core';
export { FileBackendError, type FileBackendErrorCode } from './errors.js';
export { FileBackend, type PruneResult } from './file-backend.js';
export { FileLeaseStore } from './file-lease-store.js';
export { FileLockProxy, withFileLocks } from './file-lock-proxy.js';
export { FileLocks } from './file-locks.js';
export type { FileBackendOptions, FileLockOptions, FileLockSettings } from './options.js';

registerBackend('file', (args) => new FileBackend(args as unknown as FileBackendOptions));
