import {
  mkdirSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { LeaseStore, ReleaseWatch } from '@dogpile/core';
import { DirectoryWatch } from './directory-watch.js';
import { isErrno, toFileBackendError } from './errors.js';
import { hashName } from './hash.js';

/** What {@link FileLeaseStore} needs besides the directory. */
export interface FileLeaseStoreOptions {
  /** The lock directory; made again if it is removed while in use (its parent must still exist). */
  directory: string;
  /** Wake waiters through `fs.watch` on the directory. */
  watch: boolean;
  /** Throws the owner's "closed" error once it is closed. */
  assertOpen: () => void;
}

/** Stores with leases held, released synchronously if the process exits without releasing them. */
const holding = new Set<FileLeaseStore>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs on process.exit(), the end of the event loop and an uncaught exception, not on
  // SIGKILL or a crash: then the lease expires after lockTimeout, as it must.
  process.on('exit', () => {
    for (const store of holding) store.releaseAllSync();
  });
}

/** What a lock entry looks like when read. */
type LockState =
  | { kind: 'free' }
  | { kind: 'held' }
  /** Every owner file in it has expired: their names, to remove by name. */
  | { kind: 'expired'; owners: string[] };

/** How many times a take retries after finding the lock free or expired but losing the race. */
const TAKE_ATTEMPTS = 3;
/** A take directory older than this belongs to a process that died mid-take. */
export const ORPHAN_TAKE_MS = 60_000;

const RACED = ['ENOTEMPTY', 'EEXIST', 'EPERM', 'EACCES', 'EISDIR', 'ENOTDIR'];

/**
 * The leases of core's `LeaseMutex` as directories in one lock directory, shared by every process
 * of the host (or of every host mounting it) that uses the same directory.
 *
 * Layout, for the lock key `k` (`<lockPrefix><key>`), with `h` = SHA-256 hex of `k`'s UTF-8 bytes:
 * - `<dir>/<h>.lock/` exists while the lock is held or being released;
 * - `<dir>/<h>.lock/<token>` is its one owner file: the holder's random token as its name, the
 *   lease's expiry (ms precision, the writer's clock) as its modification time;
 * - `<dir>/<h>.<token>.tmp/` is a take being prepared.
 *
 * Take: the owner file is prepared in a fresh `.tmp` directory, which is then renamed onto
 * `<h>.lock`. `rename` of a directory is atomic and fails when the target is a non-empty
 * directory, so of concurrent takers exactly one wins, and the lock is never seen half-made
 * (proper-lockfile takes with `mkdir` and writes nothing inside; this is the same atomic directory
 * operation with the owner already inside). A target that is empty (a release in progress) is
 * replaced. An expired owner file is removed **by its name** before the rename: of takers racing
 * on one expired lock only one removal succeeds, and a removal never touches another holder's file.
 *
 * Release and extend act on `<h>.lock/<token>` by name, so they succeed only while the token
 * still owns the lock: a holder whose lease was taken over never removes or extends the new
 * holder's lock. An extension after the lease already expired is refused (the lock may be taken
 * over at any moment), and so is reported lost.
 */
export class FileLeaseStore implements LeaseStore {
  readonly directory: string;
  readonly #assertOpen: () => void;
  readonly #watch: DirectoryWatch | undefined;
  readonly #where: string;
  /** Leases taken here and not yet released: token → owner file. */
  readonly #held = new Map<string, string>();

  constructor(options: FileLeaseStoreOptions) {
    this.directory = options.directory;
    this.#assertOpen = options.assertOpen;
    this.#watch = options.watch
      ? new DirectoryWatch(
          this.directory,
          (name) => this.#inspect(join(this.directory, name)).kind === 'held',
        )
      : undefined;
    this.#where = `the lock directory ${this.directory}`;
  }

  /** The entry of `lockKey` in the lock directory: `<sha256 hex>.lock`. */
  static entryName(lockKey: string): string {
    return `${hashName(lockKey)}.lock`;
  }

  #lockPath(lockKey: string): string {
    return join(this.directory, FileLeaseStore.entryName(lockKey));
  }

  tryTake(lockKey: string, token: string, ttlMs: number): boolean {
    this.#assertOpen();
    const lock = this.#lockPath(lockKey);
    try {
      // A held lock is seen by reading it: a waiter polling every few ms prepares nothing.
      let state = this.#inspect(lock);
      if (state.kind === 'held') return false;
      const temp = join(this.directory, `${hashName(lockKey)}.${token}.tmp`);
      this.#prepare(temp, token, ttlMs);
      let renamed = false;
      try {
        for (let attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
          if (state.kind === 'held') return false;
          if (state.kind === 'expired') this.#removeOwners(lock, state.owners);
          try {
            renameSync(temp, lock);
            renamed = true;
            this.#remember(token, join(lock, token));
            return true;
          } catch (error) {
            if (!isErrno(error, ...RACED)) throw error;
          }
          state = this.#inspect(lock);
        }
        return false;
      } finally {
        if (!renamed) {
          try {
            rmSync(temp, { recursive: true, force: true });
          } catch {
            // prune() removes it once it is old
          }
        }
      }
    } catch (error) {
      throw toFileBackendError(error, `take the lock on "${lockKey}"`, this.#where);
    }
  }

  release(lockKey: string, token: string): boolean {
    this.#assertOpen();
    this.#forget(token);
    const lock = this.#lockPath(lockKey);
    try {
      unlinkSync(join(lock, token));
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw toFileBackendError(error, `release the lock on "${lockKey}"`, this.#where);
    }
    // Only an empty directory goes: if a taker already renamed its own onto it, this fails.
    try {
      rmdirSync(lock);
    } catch {
      // not empty: a taker already renamed its own onto it
    }
    return true;
  }

  extend(lockKey: string, token: string, ttlMs: number): boolean {
    this.#assertOpen();
    const owner = join(this.#lockPath(lockKey), token);
    try {
      const now = Date.now();
      if (statSync(owner).mtimeMs <= now) {
        this.#forget(token);
        return false;
      }
      utimesSync(owner, now / 1000, (now + ttlMs) / 1000);
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
        this.#forget(token);
        return false;
      }
      throw toFileBackendError(error, `extend the lock on "${lockKey}"`, this.#where);
    }
  }

  isHeld(lockKey: string): boolean {
    this.#assertOpen();
    try {
      return this.#inspect(this.#lockPath(lockKey)).kind === 'held';
    } catch (error) {
      throw toFileBackendError(error, `read the lock on "${lockKey}"`, this.#where);
    }
  }

  #remember(token: string, owner: string): void {
    this.#held.set(token, owner);
    holding.add(this);
    installExitHook();
  }

  #forget(token: string): void {
    this.#held.delete(token);
    if (this.#held.size === 0) holding.delete(this);
  }

  /**
   * Gives back every lease this store still holds, synchronously: run when the process exits, so
   * a process that ends without releasing (process.exit(), an uncaught exception) does not make
   * the others wait out its leases.
   */
  releaseAllSync(): void {
    for (const owner of this.#held.values()) {
      try {
        unlinkSync(owner);
        rmdirSync(join(owner, '..'));
      } catch {
        // Already gone, or taken over: nothing of ours to give back.
      }
    }
    this.#held.clear();
    holding.delete(this);
  }

  watchReleases(lockKey: string, onRelease: () => void): ReleaseWatch {
    if (this.#watch === undefined) return { listening: false, stop() {} };
    return this.#watch.subscribe(FileLeaseStore.entryName(lockKey), onRelease);
  }

  /**
   * Removes locks whose every owner expired (their holders died) and take directories older than
   * a minute (their takers died mid-take). Resolves how many entries went.
   */
  async prune(): Promise<number> {
    let entries: string[];
    try {
      entries = await readdir(this.directory);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return 0;
      throw toFileBackendError(error, 'prune expired locks', this.#where);
    }
    let removed = 0;
    for (const name of entries) {
      const path = join(this.directory, name);
      try {
        if (name.endsWith('.lock')) {
          const state = this.#inspect(path);
          if (state.kind === 'expired') this.#removeOwners(path, state.owners);
          if (state.kind === 'held') continue;
          await rmdir(path);
          removed++;
        } else if (name.endsWith('.tmp')) {
          const { mtimeMs } = await stat(path);
          if (Date.now() - mtimeMs < ORPHAN_TAKE_MS) continue;
          await rm(path, { recursive: true, force: true });
          removed++;
        }
      } catch {
        // Taken, released or removed meanwhile by another process: its business.
      }
    }
    return removed;
  }

  /** Reads the owner files of a lock: held if any lease is unexpired. */
  #inspectOwners(lock: string, names: string[]): LockState {
    const now = Date.now();
    const expired: string[] = [];
    for (const name of names) {
      let mtimeMs: number;
      try {
        ({ mtimeMs } = statSync(join(lock, name)));
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
      if (mtimeMs > now) return { kind: 'held' };
      expired.push(name);
    }
    return expired.length === 0 ? { kind: 'free' } : { kind: 'expired', owners: expired };
  }

  #inspect(lock: string): LockState {
    let names: string[];
    try {
      names = readdirSync(lock);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return { kind: 'free' };
      throw error;
    }
    if (names.length === 0) return { kind: 'free' };
    return this.#inspectOwners(lock, names);
  }

  #removeOwners(lock: string, owners: string[]): void {
    for (const owner of owners) {
      try {
        unlinkSync(join(lock, owner));
      } catch (error) {
        if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw error;
      }
    }
  }

  /** Makes `<temp>/<token>` with the lease's expiry as its mtime, recreating the directory if it went. */
  #prepare(temp: string, token: string, ttlMs: number): void {
    try {
      mkdirSync(temp);
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      // The lock directory was removed under us: make it again (not its parent: a cache directory
      // removed on purpose stays removed), and watch the new one.
      try {
        mkdirSync(this.directory);
      } catch (mkdirError) {
        if (!isErrno(mkdirError, 'EEXIST')) throw mkdirError;
      }
      this.#watch?.reset();
      mkdirSync(temp);
    }
    const owner = join(temp, token);
    writeFileSync(owner, `${process.pid}\n`);
    const now = Date.now();
    utimesSync(owner, now / 1000, (now + ttlMs) / 1000);
  }
}
