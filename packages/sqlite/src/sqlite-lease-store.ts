import type { LeaseStore } from '@dogpile/core';
import type BetterSqlite3 from 'better-sqlite3';
import { toSqliteBackendError } from './errors.js';
import type { SqliteDatabase } from './options.js';

type Statement = BetterSqlite3.Statement;

/**
 * The leases of core's `LeaseMutex` in the lock table, shared by every process that opens the
 * file. A row `(key, token, expires_at)` is a held lease; a row whose `expires_at` (ms since the
 * epoch) has passed is free to take, which is how a dead holder's lock goes away. SQLite cannot
 * announce a release, so waiters poll; a check is one indexed read of the row.
 */
export class SqliteLeaseStore implements LeaseStore {
  readonly #where: string;
  readonly #assertOpen: () => void;
  readonly #upsert: Statement;
  readonly #select: Statement;
  readonly #release: Statement;
  readonly #extend: Statement;
  readonly #held: Statement;
  readonly #prune: Statement;
  readonly #take: (key: string, token: string, ttlMs: number) => boolean;

  /**
   * @param quotedTable the lock table, already validated and quoted.
   * @param where names the file in errors.
   * @param assertOpen throws `ERR_SQLITE_CLOSED` once the backend is closed.
   */
  constructor(db: SqliteDatabase, quotedTable: string, where: string, assertOpen: () => void) {
    this.#where = where;
    this.#assertOpen = assertOpen;
    this.#select = db.prepare(`SELECT expires_at FROM ${quotedTable} WHERE key = ?`).pluck();
    this.#upsert = db.prepare(
      `INSERT INTO ${quotedTable} (key, token, expires_at) VALUES (?, ?, ?) ` +
        'ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at',
    );
    this.#release = db.prepare(`DELETE FROM ${quotedTable} WHERE key = ? AND token = ?`);
    this.#extend = db.prepare(
      `UPDATE ${quotedTable} SET expires_at = ? WHERE key = ? AND token = ?`,
    );
    this.#held = db
      .prepare(`SELECT 1 FROM ${quotedTable} WHERE key = ? AND expires_at > ?`)
      .pluck();
    this.#prune = db.prepare(`DELETE FROM ${quotedTable} WHERE expires_at <= ?`);
    const take = db.transaction((key: string, token: string, ttlMs: number): boolean => {
      const now = Date.now();
      const expiresAt = this.#select.get(key) as number | undefined;
      if (expiresAt !== undefined && expiresAt > now) return false;
      this.#upsert.run(key, token, now + ttlMs);
      return true;
    });
    // BEGIN IMMEDIATE takes the write lock before the read, so contending processes queue on the
    // busy timeout. A deferred transaction would read first, and its later upgrade to a writer
    // fails at once with SQLITE_BUSY when another process wrote meanwhile.
    this.#take = take.immediate;
  }

  /**
   * Takes the lease if nobody holds it or its holder's time ran out. A held lease is seen with a
   * plain read first (in WAL mode a read never waits for a writer), so a waiter polling every few
   * milliseconds never queues for the write lock just to find the lock still held.
   */
  tryTake(key: string, token: string, ttlMs: number): boolean {
    this.#assertOpen();
    try {
      if (this.#held.get(key, Date.now()) !== undefined) return false;
      return this.#take(key, token, ttlMs);
    } catch (error) {
      throw toSqliteBackendError(error, `take the lock on "${key}"`, this.#where);
    }
  }

  release(key: string, token: string): boolean {
    this.#assertOpen();
    try {
      return this.#release.run(key, token).changes > 0;
    } catch (error) {
      throw toSqliteBackendError(error, `release the lock on "${key}"`, this.#where);
    }
  }

  /**
   * A row that expired but still carries `token` is safely revived: taking a lease overwrites the
   * token in the same write transaction, so nobody took it meanwhile.
   */
  extend(key: string, token: string, ttlMs: number): boolean {
    this.#assertOpen();
    try {
      return this.#extend.run(Date.now() + ttlMs, key, token).changes > 0;
    } catch (error) {
      throw toSqliteBackendError(error, `extend the lock on "${key}"`, this.#where);
    }
  }

  isHeld(key: string): boolean {
    this.#assertOpen();
    try {
      return this.#held.get(key, Date.now()) !== undefined;
    } catch (error) {
      throw toSqliteBackendError(error, `read the lock on "${key}"`, this.#where);
    }
  }

  /** Deletes expired lock rows; returns how many. */
  prune(): number {
    try {
      return this.#prune.run(Date.now()).changes;
    } catch (error) {
      throw toSqliteBackendError(error, 'prune expired locks', this.#where);
    }
  }
}
