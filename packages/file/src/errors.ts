import { DogpileError } from '@dogpile/core';

/** The stable codes of {@link FileBackendError}. */
export type FileBackendErrorCode =
  /** The cache directory (or the lock directory's parent) does not exist or is not a directory. */
  | 'ERR_FILE_DIRECTORY'
  /** The directory exists but this process may not write to it (permissions, read-only mount, immutable). */
  | 'ERR_FILE_NOT_WRITABLE'
  /** The backend or its locks were used after `close()`. */
  | 'ERR_FILE_CLOSED'
  /** A held lock expired and was taken over (or removed) before it could be extended or released. */
  | 'ERR_FILE_LOCK_LOST'
  /** Any other file-system failure (disk full, I/O error); `cause` holds Node's error. */
  | 'ERR_FILE_IO';

/**
 * Every failure of the file backend and its locks. Match on `code`; `errno` holds Node's own code
 * (`'ENOENT'`, `'EACCES'`, `'ENOSPC'`, ...) when there was one.
 */
export class FileBackendError extends DogpileError {
  declare readonly code: FileBackendErrorCode;
  readonly errno: string | undefined;

  constructor(
    code: FileBackendErrorCode,
    message: string,
    options?: ErrorOptions & { errno?: string | undefined },
  ) {
    super(code, message, options);
    this.errno = options?.errno;
  }
}

/** Node's error code (`'ENOENT'`, ...) of a file-system error, if any. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `error` is a file-system error with one of `codes`. */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  const code = errnoOf(error);
  return code !== undefined && codes.includes(code);
}

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Turns what `node:fs` threw into a {@link FileBackendError} that says what to do. `doing` names
 * the operation, `where` the directory, for the message.
 */
export function toFileBackendError(error: unknown, doing: string, where: string): FileBackendError {
  if (error instanceof FileBackendError) return error;
  const errno = errnoOf(error);
  const cause = error instanceof Error ? error.message : String(error);
  const options = { cause: error, errno };
  if (errno !== undefined && NOT_WRITABLE.has(errno)) {
    return new FileBackendError(
      'ERR_FILE_NOT_WRITABLE',
      `Cannot ${doing}: ${where} cannot be written by this process (${cause}). ` +
        'Give it write access to the directory (and remount it read-write, or clear an immutable attribute), or pass another directory.',
      options,
    );
  }
  if (errno === 'ENOENT' || errno === 'ENOTDIR') {
    return new FileBackendError(
      'ERR_FILE_DIRECTORY',
      `Cannot ${doing}: ${where} does not exist or is not a directory (${cause}). Create it, or pass another directory.`,
      options,
    );
  }
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new FileBackendError(
      'ERR_FILE_IO',
      `Cannot ${doing}: the disk of ${where} is full (${cause}). Free space, prune() the cache, or pass another directory.`,
      options,
    );
  }
  return new FileBackendError('ERR_FILE_IO', `Cannot ${doing} in ${where}: ${cause}`, options);
}
