import { DogpileError } from '@dogpile/core';

/** The stable codes of {@link SqliteBackendError}. */
export type SqliteBackendErrorCode =
  /** The file could not be opened or created (missing or unwritable directory, permissions). */
  | 'ERR_SQLITE_OPEN'
  /** The file is not a SQLite database, or its cache tables are damaged. */
  | 'ERR_SQLITE_CORRUPT'
  /** The file can be read but not written. */
  | 'ERR_SQLITE_READONLY'
  /** The table exists with other columns than this backend's. */
  | 'ERR_SQLITE_SCHEMA'
  /** Another connection held the write lock for longer than `busyTimeout`. */
  | 'ERR_SQLITE_BUSY'
  /** The backend was used after `close()`, or its connection was closed under it. */
  | 'ERR_SQLITE_CLOSED'
  /** A held lock expired and another holder took it before it could be extended. */
  | 'ERR_SQLITE_LOCK_LOST'
  /** Any other SQLite failure (disk full, I/O error); `cause` holds SQLite's error. */
  | 'ERR_SQLITE';

/**
 * Every failure of the SQLite backend and its mutex. Match on `code`; `sqliteCode` holds
 * SQLite's own extended code (`'SQLITE_BUSY'`, `'SQLITE_NOTADB'`, ...) when there was one.
 */
export class SqliteBackendError extends DogpileError<SqliteBackendErrorCode> {
  readonly sqliteCode: string | undefined;

  constructor(
    code: SqliteBackendErrorCode,
    message: string,
    options?: ErrorOptions & { sqliteCode?: string | undefined },
  ) {
    super(code, message, options);
    this.sqliteCode = options?.sqliteCode;
  }
}

function sqliteCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Turns what better-sqlite3 threw into a {@link SqliteBackendError} that says what to do.
 * `where` names the file or database for the message; `doing` the operation.
 */
export function toSqliteBackendError(
  error: unknown,
  doing: string,
  where: string,
): SqliteBackendError {
  if (error instanceof SqliteBackendError) return error;
  const sqliteCode = sqliteCodeOf(error);
  const cause = messageOf(error);
  const options = { cause: error, sqliteCode };
  if (sqliteCode === undefined) {
    if (error instanceof TypeError && /connection is not open/i.test(cause)) {
      return new SqliteBackendError(
        'ERR_SQLITE_CLOSED',
        `Cannot ${doing}: the SQLite connection to ${where} is closed. Create a new SqliteBackend.`,
        options,
      );
    }
    if (/directory does not exist/i.test(cause)) {
      return new SqliteBackendError(
        'ERR_SQLITE_OPEN',
        `Cannot ${doing}: the directory of ${where} does not exist. Create it first, or pass another filename.`,
        options,
      );
    }
    return new SqliteBackendError('ERR_SQLITE', `Cannot ${doing} on ${where}: ${cause}`, options);
  }
  if (sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode.startsWith('SQLITE_LOCKED')) {
    return new SqliteBackendError(
      'ERR_SQLITE_BUSY',
      `Cannot ${doing}: ${where} stayed locked by another connection for longer than busyTimeout (${cause}). ` +
        'Raise busyTimeout, or look for a process holding a long write transaction.',
      options,
    );
  }
  if (sqliteCode === 'SQLITE_NOTADB' || sqliteCode.startsWith('SQLITE_CORRUPT')) {
    return new SqliteBackendError(
      'ERR_SQLITE_CORRUPT',
      `Cannot ${doing}: ${where} is not a SQLite database or is damaged (${cause}). ` +
        'It only holds a cache: delete the file (and its -wal and -shm files), or pass another filename.',
      options,
    );
  }
  if (sqliteCode.startsWith('SQLITE_READONLY')) {
    return new SqliteBackendError(
      'ERR_SQLITE_READONLY',
      `Cannot ${doing}: ${where} cannot be written (${cause}). ` +
        'Give this process write access to the file and its directory (SQLite creates -wal and -shm files beside it).',
      options,
    );
  }
  if (
    sqliteCode.startsWith('SQLITE_CANTOPEN') ||
    sqliteCode === 'SQLITE_PERM' ||
    sqliteCode === 'SQLITE_AUTH'
  ) {
    return new SqliteBackendError(
      'ERR_SQLITE_OPEN',
      `Cannot ${doing}: ${where} cannot be opened or created (${cause}). ` +
        'Check that its directory exists and that this process may write to it.',
      options,
    );
  }
  return new SqliteBackendError('ERR_SQLITE', `Cannot ${doing} on ${where}: ${cause}`, options);
}
