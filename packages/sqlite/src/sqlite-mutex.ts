import { randomUUID } from 'node:crypto';
import { type AcquireOptions, type CacheMutex, reportError } from '@dogpile/core';
import type BetterSqlite3 from 'better-sqlite3';
import { SqliteBackendError, toSqliteBackendError } from './errors.js';
import type { ResolvedLockOptions, SqliteDatabase } from './options.js';

type Statement = BetterSqlite3.Statement;

/**
 * The lock table and its prepared statements, shared by every {@link SqliteMutex} of one backend.
 * A row `(key, token, expires_at)` is a held lock; a row whose `expires_at` (ms since the epoch)
 * has passed is free to take, which is how a dead holder's lock goes away.
 */
export class SqliteLockTable {
  readonly #where: string;
  readonly #select: Statement;
  readonly #upsert: Statement;
  readonly #release: Statement;
  readonly #extend: Statement;
  readonly #locked: Statement;
  readonly #prune: Statement;
  readonly #take: (key: string, token: string, ttlMs: number) => boolean;

  /** `quotedTable` must already be validated and quoted; `where` names the file in errors. */
  constructor(db: SqliteDatabase, quotedTable: string, where: string) {
    this.#where = where;
    this.#select = db.prepare(`SELECT expires_at FROM ${quotedTable} WHERE key = ?`).pluck();
    this.#upsert = db.prepare(
      `INSERT INTO ${quotedTable} (key, token, expires_at) VALUES (?, ?, ?) ` +
        'ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at',
    );
    this.#release = db.prepare(`DELETE FROM ${quotedTable} WHERE key = ? AND token = ?`);
    this.#extend = db.prepare(
      `UPDATE ${quotedTable} SET expires_at = ? WHERE key = ? AND token = ?`,
    );
    this.#locked = db
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

  /** Takes the lock for `key` with `token` if nobody holds it or the holder's time ran out. */
  tryAcquire(key: string, token: string, ttlMs: number): boolean {
    try {
      return this.#take(key, token, ttlMs);
    } catch (error) {
      throw toSqliteBackendError(error, `take the lock on "${key}"`, this.#where);
    }
  }

  /** Deletes the lock only if `token` still owns it; returns whether it did. */
  release(key: string, token: string): boolean {
    try {
      return this.#release.run(key, token).changes > 0;
    } catch (error) {
      throw toSqliteBackendError(error, `release the lock on "${key}"`, this.#where);
    }
  }

  /**
   * Pushes the expiry of a lock `token` still owns to `ttlMs` from now; returns `false` when
   * another holder took it. A row that expired but still carries `token` is safely revived:
   * taking a lock overwrites the token in the same write transaction, so nobody took it meanwhile.
   */
  extend(key: string, token: string, ttlMs: number): boolean {
    try {
      return this.#extend.run(Date.now() + ttlMs, key, token).changes > 0;
    } catch (error) {
      throw toSqliteBackendError(error, `extend the lock on "${key}"`, this.#where);
    }
  }

  /** Whether an unexpired lock row exists for `key`. */
  isLocked(key: string): boolean {
    try {
      return this.#locked.get(key, Date.now()) !== undefined;
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

/** What a {@link SqliteMutex} needs from its backend. */
export interface SqliteMutexHost {
  readonly locks: SqliteLockTable;
  readonly lockOptions: ResolvedLockOptions;
  /** Throws `ERR_SQLITE_CLOSED` after the backend was closed. */
  assertOpen(doing: string): void;
  /** Called on acquire and release, so `close()` can release what is still held. */
  track(mutex: SqliteMutex, held: boolean): void;
}

/** Waits `ms`, rejecting with `signal.reason` as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal === undefined) {
      setTimeout(resolve, ms);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The dogpile lock for one key, shared by every process that opens the same SQLite file. Get one
 * from `SqliteBackend.getMutex(key)`.
 *
 * Each acquisition writes a fresh random token; `release()` and `extend()` act only on a row that
 * still carries it, so a holder whose lock expired and was taken over can never release or extend
 * the new owner's lock. While held, the lock is extended every `lockTimeout / 3`, so only a dead
 * (or event-loop-blocked) holder loses it.
 */
export class SqliteMutex implements CacheMutex {
  readonly key: string;
  readonly #host: SqliteMutexHost;
  #token: string | null = null;
  #extendTimer: NodeJS.Timeout | undefined;

  constructor(host: SqliteMutexHost, key: string) {
    this.#host = host;
    this.key = key;
  }

  /** Whether this instance holds the lock, as far as it knows (its TTL may have run out). */
  get held(): boolean {
    return this.#token !== null;
  }

  /**
   * Takes the lock. Without `wait`, one attempt. With it, retries with equal-jitter backoff until
   * the lock is taken (`true`), `lockBlockingTimeout` passes (`false`), or `signal` aborts (rejects
   * with its reason).
   */
  async acquire(wait = true, options: AcquireOptions = {}): Promise<boolean> {
    const { signal } = options;
    signal?.throwIfAborted();
    const doing = `acquire the lock on "${this.key}"`;
    this.#host.assertOpen(doing);
    const token = randomUUID();
    // Not reentrant: while this instance holds the lock, a blocking acquire waits for its release.
    const attempt = () => {
      if (this.#token !== null) return false;
      if (!this.#host.locks.tryAcquire(this.key, token, this.#host.lockOptions.ttlMs)) return false;
      this.#onAcquired(token);
      return true;
    };
    if (attempt()) return true;
    if (!wait) return false;
    // While waiting, look at the lock row first (a read, which in WAL mode never waits for a
    // writer) and open the write transaction only once the row is gone or expired. A waiter then
    // never takes SQLite's write lock just to find the lock still held, which is what makes
    // polling every few milliseconds cheap enough to be the default.
    return this.#poll(() => !this.#host.locks.isLocked(this.key) && attempt(), doing, signal);
  }

  /**
   * Waits until nobody holds the lock, without taking it: resolves `true` once it is free,
   * `false` after `lockBlockingTimeout`, and rejects with the signal's reason if it aborts. The
   * region uses it so that waiters in every process read the holder's value as soon as it is
   * released, instead of taking the lock one process after another.
   */
  async waitForRelease(options: AcquireOptions = {}): Promise<boolean> {
    const { signal } = options;
    signal?.throwIfAborted();
    const doing = `wait for the lock on "${this.key}"`;
    this.#host.assertOpen(doing);
    const free = () => !this.#host.locks.isLocked(this.key);
    if (free()) return true;
    return this.#poll(free, doing, signal);
  }

  /**
   * Retries `attempt` with equal-jitter backoff until it succeeds or `lockBlockingTimeout` passes.
   *
   * SQLite cannot tell another process that a lock was released, so a waiter only learns it at its
   * next check, and the backoff step is how late it may be. A check of a held lock is one indexed
   * read of its row (a few µs), which is why the step stays small (`lockMaxSleep`, 10 ms by
   * default) instead of growing towards the length of a slow creator: a waiter costs 100 to 200
   * reads a second, and wakes within a step of the release. The README weighs the trade-off.
   */
  async #poll(
    attempt: () => boolean,
    doing: string,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const lock = this.#host.lockOptions;
    const started = Date.now();
    for (let round = 0; ; round++) {
      const remaining = started + lock.blockingTimeoutMs - Date.now();
      if (remaining <= 0) return false;
      const step = Math.min(lock.maxSleepMs, lock.sleepMs * 2 ** Math.min(round, 30));
      const delay = step / 2 + Math.random() * (step / 2);
      await sleep(Math.min(delay, remaining), signal);
      this.#host.assertOpen(doing);
      if (attempt()) return true;
    }
  }

  /** Releases the lock if this instance still owns it; otherwise does nothing. */
  async release(): Promise<void> {
    const token = this.#token;
    if (token === null) return;
    this.#onDropped();
    this.#host.locks.release(this.key, token);
  }

  /**
   * Pushes the lock's expiry to `lockTimeout` from now. Resolves `false` (and forgets the lock)
   * when it is no longer this instance's: it expired and another holder took it.
   */
  async extend(): Promise<boolean> {
    const token = this.#token;
    if (token === null) return false;
    if (this.#host.locks.extend(this.key, token, this.#host.lockOptions.ttlMs)) return true;
    this.#onDropped();
    return false;
  }

  /** Whether anyone, in any process, holds the lock right now. */
  async locked(): Promise<boolean> {
    this.#host.assertOpen(`read the lock on "${this.key}"`);
    return this.#host.locks.isLocked(this.key);
  }

  /** Stops the extension timer and forgets the token, without touching the row; used by close(). */
  forget(): string | null {
    const token = this.#token;
    this.#onDropped();
    return token;
  }

  #onAcquired(token: string): void {
    this.#token = token;
    this.#host.track(this, true);
    const { extend, ttlMs } = this.#host.lockOptions;
    if (!extend) return;
    this.#extendTimer = setInterval(() => this.#autoExtend(), Math.max(1, Math.floor(ttlMs / 3)));
    this.#extendTimer.unref();
  }

  #onDropped(): void {
    if (this.#extendTimer !== undefined) clearInterval(this.#extendTimer);
    this.#extendTimer = undefined;
    if (this.#token !== null) {
      this.#token = null;
      this.#host.track(this, false);
    }
  }

  #autoExtend(): void {
    const token = this.#token;
    if (token === null) return;
    try {
      if (this.#host.locks.extend(this.key, token, this.#host.lockOptions.ttlMs)) return;
      this.#onDropped();
      reportError({
        operation: 'sqliteLockExtend',
        key: this.key,
        error: new SqliteBackendError(
          'ERR_SQLITE_LOCK_LOST',
          `The SQLite lock on "${this.key}" expired before it could be extended and another process took it. ` +
            'Raise lockTimeout, or keep the creator from blocking the event loop that long.',
        ),
      });
    } catch (error) {
      // A busy database: keep the lock and try again on the next tick, which still leaves two
      // more chances before the TTL runs out.
      reportError({ operation: 'sqliteLockExtend', key: this.key, error });
    }
  }
}
