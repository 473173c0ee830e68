import {
  BytesBackend,
  LeaseLocks,
  type LeaseMutex,
  NO_VALUE,
  type NoValue,
  reportError,
  validateKey,
} from '@dogpile/core';
import type BetterSqlite3 from 'better-sqlite3';
import Database from 'better-sqlite3';
import { SqliteBackendError, toSqliteBackendError } from './errors.js';
import {
  type ResolvedOptions,
  resolveOptions,
  type SqliteBackendOptions,
  type SqliteDatabase,
} from './options.js';
import { SqliteLeaseStore } from './sqlite-lease-store.js';

type Statement = BetterSqlite3.Statement;
/** A row of the values table as `.raw()` returns it: `[value, expires_at]`. */
type ValueRow = [value: Uint8Array, expiresAt: number | null];

/** Rows deleted per statement by `prune()`, so one call never holds the write lock for long. */
const PRUNE_BATCH = 1000;

const COLUMNS = {
  values: ['key', 'value', 'expires_at'],
  locks: ['key', 'token', 'expires_at'],
};

function isMemory(filename: string | undefined): boolean {
  return filename === ':memory:' || filename?.startsWith('file::memory:') === true;
}

/** A synchronous pause for the constructor, which cannot await. */
function pauseSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A cache backend on one SQLite file, through better-sqlite3: every process on the host that opens
 * the file shares its values and, through core's `LeaseMutex` over a {@link SqliteLeaseStore}, its
 * dogpile lock. No server needed.
 *
 * Values are `JSON(metadata)|payload` bytes in a BLOB column, with an optional server-side expiry
 * (`expires_at`, ms since the epoch) enforced lazily on read and by {@link SqliteBackend.prune}.
 * better-sqlite3 is synchronous: each call blocks the event loop for its statement, a few
 * microseconds for a hit (the README lists measured costs).
 *
 * @example
 * const region = makeRegion().configure(
 *   new SqliteBackend({ filename: './cache.db', expirationTime: '1h' }),
 *   { expirationTime: '5m' },
 * );
 */
export class SqliteBackend extends BytesBackend {
  /** The better-sqlite3 connection; the caller's when `database` was passed. */
  readonly database: SqliteDatabase;
  /** The values table; locks live in `<table>_locks`. */
  readonly table: string;

  readonly #where: string;
  readonly #ownsDatabase: boolean;
  readonly #expirationMs: number | null;
  readonly #distributedLock: boolean;
  readonly #leases: SqliteLeaseStore;
  readonly #locks: LeaseLocks;
  #closed = false;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<number> | undefined;

  readonly #get: Statement;
  readonly #set: Statement;
  readonly #delete: Statement;
  readonly #deleteExpired: Statement;
  readonly #pruneBatch: Statement;
  readonly #getMany: (keys: readonly string[]) => Array<ValueRow | undefined>;
  readonly #setMany: (mapping: ReadonlyMap<string, Uint8Array>, expiresAt: number | null) => void;
  readonly #deleteMany: (keys: readonly string[]) => void;

  /**
   * Opens (or adopts) the database, switches it to WAL, creates the tables if missing and checks
   * that they are intact and writable. Throws {@link SqliteBackendError} when the file cannot be
   * opened, is damaged or cannot be written, and `ValidationError` for bad options.
   */
  constructor(options: SqliteBackendOptions) {
    super();
    const resolved = resolveOptions(options);
    this.table = resolved.table;
    this.#expirationMs = resolved.expirationMs;
    this.#distributedLock = resolved.distributedLock;
    if (resolved.serializer !== undefined) this.serializer = resolved.serializer;
    this.keyMangler = resolved.keyMangler;

    this.#ownsDatabase = resolved.database === undefined;
    const filename = resolved.filename;
    this.#where =
      filename !== undefined
        ? `SQLite database ${filename}`
        : `SQLite database ${resolved.database!.name}`;
    if (resolved.database !== undefined) {
      this.database = resolved.database;
    } else {
      try {
        this.database = new Database(filename, { timeout: resolved.busyTimeoutMs ?? 5000 });
      } catch (error) {
        throw toSqliteBackendError(error, 'open the cache database', this.#where);
      }
    }

    const db = this.database;
    const values = `"${this.table}"`;
    const locksTable = `"${this.table}_locks"`;
    try {
      this.#configureConnection(resolved);
      this.#createSchema(values, locksTable);
      if (resolved.integrityCheck) this.#checkIntegrity();
      this.#get = db.prepare(`SELECT value, expires_at FROM ${values} WHERE key = ?`).raw();
      this.#set = db.prepare(
        `INSERT INTO ${values} (key, value, expires_at) VALUES (?, ?, ?) ` +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
      );
      this.#delete = db.prepare(`DELETE FROM ${values} WHERE key = ?`);
      // Only a row that is still expired: another process may have written a fresh one meanwhile.
      this.#deleteExpired = db.prepare(`DELETE FROM ${values} WHERE key = ? AND expires_at <= ?`);
      this.#pruneBatch = db.prepare(
        `DELETE FROM ${values} WHERE rowid IN ` +
          `(SELECT rowid FROM ${values} WHERE expires_at <= ? LIMIT ${PRUNE_BATCH})`,
      );
      const get = this.#get;
      const set = this.#set;
      const del = this.#delete;
      // One read transaction: a consistent snapshot, and one lock round instead of one per key.
      this.#getMany = db.transaction((keys: readonly string[]) =>
        keys.map((key) => get.get(key) as ValueRow | undefined),
      );
      const setMany = db.transaction(
        (mapping: ReadonlyMap<string, Uint8Array>, expiresAt: number | null) => {
          for (const [key, value] of mapping) set.run(key, value, expiresAt);
        },
      );
      const deleteMany = db.transaction((keys: readonly string[]) => {
        for (const key of keys) del.run(key);
      });
      // Writers start with the write lock, so they wait on the busy timeout instead of failing.
      this.#setMany = setMany.immediate;
      this.#deleteMany = deleteMany.immediate;
      this.#leases = new SqliteLeaseStore(db, locksTable, this.#where, () =>
        this.#assertOpen('use the lock table'),
      );
      this.#probeWritable(locksTable);
    } catch (error) {
      if (this.#ownsDatabase) this.database.close();
      throw toSqliteBackendError(error, 'set up the cache tables', this.#where);
    }

    this.#locks = new LeaseLocks({
      store: this.#leases,
      settings: resolved.lease,
      where: this.#where,
      lostError: (message) => new SqliteBackendError('ERR_SQLITE_LOCK_LOST', message),
      closedError: () =>
        new SqliteBackendError(
          'ERR_SQLITE_CLOSED',
          `This SqliteBackend on the ${this.#where} was closed while a lock was waited for. Do not close a backend that is still in use.`,
        ),
    });

    if (resolved.pruneIntervalMs !== undefined) {
      this.#pruneTimer = setInterval(() => {
        if (this.#pruning !== undefined) return;
        this.prune().catch((error: unknown) => reportError({ operation: 'sqlitePrune', error }));
      }, resolved.pruneIntervalMs);
      this.#pruneTimer.unref();
    }
  }

  #configureConnection(resolved: ResolvedOptions): void {
    const db = this.database;
    if (!this.#ownsDatabase && resolved.busyTimeoutMs !== undefined) {
      db.pragma(`busy_timeout = ${resolved.busyTimeoutMs}`);
    }
    if (resolved.wal === true && !isMemory(resolved.filename ?? db.name)) {
      // Switching a fresh file to WAL needs a moment of exclusive access; processes starting
      // together can see SQLITE_BUSY here without the busy handler being called, so retry.
      const deadline = Date.now() + Math.max(resolved.busyTimeoutMs ?? 5000, 100);
      for (;;) {
        try {
          db.pragma('journal_mode = WAL');
          break;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          if (
            typeof code !== 'string' ||
            !code.startsWith('SQLITE_BUSY') ||
            Date.now() > deadline
          ) {
            throw error;
          }
          pauseSync(5 + Math.random() * 10);
        }
      }
    } else if (resolved.wal === false && !this.#ownsDatabase) {
      // Only an explicit wal: false on an adopted connection changes its journal mode.
      db.pragma('journal_mode = DELETE');
    }
    if (resolved.synchronous !== undefined) db.pragma(`synchronous = ${resolved.synchronous}`);
  }

  #createSchema(values: string, locks: string): void {
    const db = this.database;
    const create = db.transaction(() => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${values} (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER);` +
          `CREATE TABLE IF NOT EXISTS ${locks} (key TEXT PRIMARY KEY NOT NULL, token TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
      );
      // Before the index, which would fail on a foreign table with a less helpful message.
      this.#checkColumns();
      db.exec(
        `CREATE INDEX IF NOT EXISTS "${this.table}_expires_at" ON ${values} (expires_at) WHERE expires_at IS NOT NULL;`,
      );
    });
    create.immediate();
  }

  #checkIntegrity(): void {
    for (const table of [this.table, `${this.table}_locks`]) {
      const problems = this.database
        .prepare(`PRAGMA quick_check("${table}")`)
        .pluck()
        .all() as string[];
      if (problems.length !== 1 || problems[0] !== 'ok') {
        throw new SqliteBackendError(
          'ERR_SQLITE_CORRUPT',
          `The ${this.#where} is damaged: PRAGMA quick_check on table ${table} reported ` +
            `${JSON.stringify(problems.slice(0, 3))}. It only holds a cache: delete the file (and its -wal ` +
            'and -shm files), or pass another filename.',
        );
      }
    }
  }

  #checkColumns(): void {
    const tables = [
      [this.table, COLUMNS.values],
      [`${this.table}_locks`, COLUMNS.locks],
    ] as const;
    for (const [table, expected] of tables) {
      const columns = (
        this.database.pragma(`table_info("${table}")`) as Array<{ name: string }>
      ).map((column) => column.name);
      if (columns.join(',') !== expected.join(',')) {
        throw new SqliteBackendError(
          'ERR_SQLITE_SCHEMA',
          `Table ${table} in the ${this.#where} has columns (${columns.join(', ')}), not this backend's ` +
            `(${expected.join(', ')}). Pass another table option, or drop the table.`,
        );
      }
    }
  }

  /** A file we may read but not write would otherwise fail only at the first set. */
  #probeWritable(locks: string): void {
    const db = this.database;
    const probe = db.prepare(
      `INSERT OR REPLACE INTO ${locks} (key, token, expires_at) VALUES (?, '', 0)`,
    );
    const rollback = new Error('rollback');
    try {
      db.transaction(() => {
        probe.run('\u0000dogpile-write-probe');
        throw rollback;
      }).immediate();
    } catch (error) {
      if (error !== rollback) throw error;
    }
  }

  #assertOpen(doing: string): void {
    if (this.#closed) {
      throw new SqliteBackendError(
        'ERR_SQLITE_CLOSED',
        `Cannot ${doing}: this SqliteBackend on the ${this.#where} was closed. Create a new one.`,
      );
    }
  }

  #fail(error: unknown, doing: string): SqliteBackendError {
    return toSqliteBackendError(error, doing, this.#where);
  }

  #expiresAt(): number | null {
    return this.#expirationMs === null ? null : Date.now() + this.#expirationMs;
  }

  /** Deletes `key` if its row is still expired; a failure only delays the deletion. */
  #dropExpired(key: string, now: number): void {
    try {
      this.#deleteExpired.run(key, now);
    } catch (error) {
      reportError({
        operation: 'sqliteLazyDelete',
        key,
        error: this.#fail(error, 'delete an expired value'),
      });
    }
  }

  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    validateKey(key);
    if (this.#closed) this.#assertOpen(`get "${key}"`);
    let row: ValueRow | undefined;
    try {
      row = this.#get.get(key) as ValueRow | undefined;
    } catch (error) {
      throw this.#fail(error, `get "${key}"`);
    }
    if (row === undefined) return NO_VALUE;
    const expiresAt = row[1];
    if (expiresAt !== null) {
      const now = Date.now();
      if (expiresAt <= now) {
        this.#dropExpired(key, now);
        return NO_VALUE;
      }
    }
    return row[0];
  }

  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    for (const key of keys) validateKey(key);
    if (this.#closed) this.#assertOpen(`get ${keys.length} keys`);
    if (keys.length === 0) return [];
    let rows: Array<ValueRow | undefined>;
    try {
      rows = this.#getMany(keys);
    } catch (error) {
      throw this.#fail(error, `get ${keys.length} keys`);
    }
    const now = Date.now();
    return rows.map((row, index) => {
      if (row === undefined) return NO_VALUE;
      if (row[1] !== null && row[1] <= now) {
        this.#dropExpired(keys[index]!, now);
        return NO_VALUE;
      }
      return row[0];
    });
  }

  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    validateKey(key);
    if (this.#closed) this.#assertOpen(`set "${key}"`);
    try {
      this.#set.run(key, value, this.#expiresAt());
    } catch (error) {
      throw this.#fail(error, `set "${key}"`);
    }
  }

  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const key of mapping.keys()) validateKey(key);
    if (this.#closed) this.#assertOpen(`set ${mapping.size} keys`);
    if (mapping.size === 0) return;
    try {
      this.#setMany(mapping, this.#expiresAt());
    } catch (error) {
      throw this.#fail(error, `set ${mapping.size} keys`);
    }
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    if (this.#closed) this.#assertOpen(`delete "${key}"`);
    try {
      this.#delete.run(key);
    } catch (error) {
      throw this.#fail(error, `delete "${key}"`);
    }
  }

  override async deleteMulti(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    if (this.#closed) this.#assertOpen(`delete ${keys.length} keys`);
    if (keys.length === 0) return;
    try {
      this.#deleteMany(keys);
    } catch (error) {
      throw this.#fail(error, `delete ${keys.length} keys`);
    }
  }

  /**
   * The lock for `key`, shared with every process using this file, or `null` when
   * `distributedLock` is off.
   */
  override getMutex(key: string): LeaseMutex | null {
    validateKey(key);
    return this.#distributedLock ? this.#locks.mutex(key) : null;
  }

  /**
   * Deletes every value past its server-side expiry, and every expired lock, in batches of 1000
   * rows with a turn of the event loop between them. Resolves to the number of values deleted.
   * Concurrent calls share one run.
   */
  async prune(): Promise<number> {
    this.#assertOpen('prune expired values');
    this.#pruning ??= this.#prune().finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  async #prune(): Promise<number> {
    let deleted = 0;
    try {
      this.#leases.prune();
      for (;;) {
        const changes = this.#pruneBatch.run(Date.now()).changes;
        deleted += changes;
        if (changes < PRUNE_BATCH) return deleted;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.#closed) return deleted;
      }
    } catch (error) {
      throw this.#fail(error, 'prune expired values');
    }
  }

  /**
   * Stops the prune timer, releases the locks this backend's mutexes still hold, and closes the
   * connection if this backend opened it. Idempotent.
   */
  override async close(): Promise<void> {
    if (this.#closed || this.#locks.closed) return;
    // While the connection is open, so the leases still held go back at once.
    await this.#locks.close();
    this.#closed = true;
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    if (this.#ownsDatabase && this.database.open) this.database.close();
  }
}
