import { randomUUID } from 'node:crypto';
import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BytesBackend,
  type LeaseMutex,
  NO_VALUE,
  type NoValue,
  reportError,
  validateKey,
} from '@dogpile/core';
import { FileBackendError, isErrno, toFileBackendError } from './errors.js';
import { FileLocks } from './file-locks.js';
import { hashName } from './hash.js';
import { type FileBackendOptions, resolveBackendOptions } from './options.js';
import { decodeValueFile, encodeValueFile, HEADER_BYTES, readExpiry } from './value-file.js';
import { asyncIo, syncIo, type ValueIo } from './value-io.js';

/** Files read or written at once by the multi-key calls, so a large batch never runs out of descriptors. */
const MULTI_CONCURRENCY = 32;
/** A temporary file older than this belongs to a writer that died mid-write. */
const ORPHAN_TEMP_MS = 60_000;
const SHARD = /^[0-9a-f]{2}$/;
const VALUE_FILE = /^[0-9a-f]{64}$/;

/** What {@link FileBackend.prune} removed. */
export interface PruneResult {
  /** Values past their `fileExpirationTime`, and value files too damaged to have an expiry. */
  expired: number;
  /** Temporary files of writers that died mid-write (older than a minute). */
  temporary: number;
  /** Locks of holders that died, and takes left half-done (see `FileLocks.prune`). */
  locks: number;
}

async function mapLimit<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(MULTI_CONCURRENCY, items.length) }, worker));
  return results;
}

/**
 * A cache backend keeping one file per key in a directory, shared by every process that uses the
 * directory, with a cross-process dogpile lock (`FileLockMutex`) in `<directory>/locks`.
 *
 * - Layout: the key's SHA-256 hex `h` names its file `<directory>/<h[0..2]>/<h[2..4]>/<h>`, so
 *   no directory holds more than 256 subdirectories, and a million keys make ~15 files per leaf.
 * - Writes are atomic: the value goes to `<h>.<random>.tmp` beside its file, which is then renamed
 *   over it. A writer killed at any point leaves the old value or the new one, and at worst a
 *   temporary file that `prune()` removes.
 * - Each file carries a checksum, its length and its expiry (`fileExpirationTime`): a truncated,
 *   damaged or foreign file is a miss (reported once), so the region regenerates it.
 *
 * @example
 * const region = makeRegion().configure(new FileBackend({ directory: '/var/cache/myapp' }), {
 *   expirationTime: '5m',
 * });
 */
export class FileBackend extends BytesBackend {
  /** The directory holding the values. */
  readonly directory: string;
  /** The locks, or `undefined` with `distributedLock: false`. */
  readonly locks: FileLocks | undefined;
  readonly #expirationMs: number | null;
  readonly #io: ValueIo;
  #closed = false;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<PruneResult> | undefined;
  /** The read problem last reported, so a broken directory is reported once, not per read. */
  #readProblem: string | undefined;

  /**
   * Checks that `directory` exists and can be written (throwing `ERR_FILE_DIRECTORY` or
   * `ERR_FILE_NOT_WRITABLE`), and creates the lock directory. `ValidationError` for bad options.
   */
  constructor(options: FileBackendOptions) {
    super();
    const resolved = resolveBackendOptions(options);
    this.directory = resolved.directory;
    this.#expirationMs = resolved.expirationMs;
    this.#io = resolved.syncIO ? syncIo : asyncIo;
    if (resolved.serializer !== undefined) this.serializer = resolved.serializer;
    this.keyMangler = resolved.keyMangler;
    this.#checkDirectory();
    this.locks = resolved.distributedLock
      ? new FileLocks({ lockDirectory: resolved.locks.lockDirectory }, resolved.locks)
      : undefined;
    if (resolved.pruneIntervalMs !== undefined) {
      this.#pruneTimer = setInterval(() => {
        if (this.#pruning !== undefined) return;
        this.prune().catch((error: unknown) => reportError({ operation: 'filePrune', error }));
      }, resolved.pruneIntervalMs);
      this.#pruneTimer.unref();
    }
  }

  get #where(): string {
    return `the cache directory ${this.directory}`;
  }

  #checkDirectory(): void {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(this.directory).isDirectory();
    } catch (error) {
      throw toFileBackendError(error, 'open the cache', this.#where);
    }
    if (!isDirectory) {
      throw new FileBackendError(
        'ERR_FILE_DIRECTORY',
        `Cannot open the cache: ${this.directory} is not a directory. Pass the path of a directory.`,
        { errno: 'ENOTDIR' },
      );
    }
    // A directory we may read but not write would otherwise fail only at the first set.
    const probe = join(this.directory, `.probe.${randomUUID()}.tmp`);
    try {
      writeFileSync(probe, '');
      unlinkSync(probe);
    } catch (error) {
      throw toFileBackendError(error, 'write to the cache', this.#where);
    }
  }

  #assertOpen(doing: string): void {
    if (this.#closed) {
      throw new FileBackendError(
        'ERR_FILE_CLOSED',
        `Cannot ${doing}: this FileBackend on ${this.directory} was closed. Create a new one.`,
      );
    }
  }

  /** The shard directory and the file of `key`. */
  #paths(key: string): { shard: string; file: string; hash: string } {
    const hash = hashName(key);
    const shard = join(this.directory, hash.slice(0, 2), hash.slice(2, 4));
    return { shard, file: join(shard, hash), hash };
  }

  /** Reports a read problem when it differs from the last one reported; `undefined` clears it. */
  #readState(problem: string | undefined, key?: string, error?: unknown): void {
    if (problem === this.#readProblem) return;
    this.#readProblem = problem;
    if (problem !== undefined) reportError({ operation: 'fileRead', key, error });
  }

  async #read(key: string): Promise<Uint8Array | NoValue> {
    const { file } = this.#paths(key);
    let bytes: Buffer;
    try {
      bytes = await this.#io.read(file);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return NO_VALUE;
      // Unreadable (permissions, a directory in its place, I/O error): a miss, so the region
      // regenerates; reported once until reads work again.
      this.#readState(
        `unreadable:${(error as NodeJS.ErrnoException).code}`,
        key,
        toFileBackendError(error, `read the value of "${key}"`, this.#where),
      );
      return NO_VALUE;
    }
    const decoded = decodeValueFile(bytes);
    if (!decoded.ok) {
      this.#readState(
        'damaged',
        key,
        new FileBackendError(
          'ERR_FILE_IO',
          `The file of "${key}" (${file}) is ${decoded.reason}; it is treated as a miss and will be overwritten.`,
        ),
      );
      return NO_VALUE;
    }
    this.#readState(undefined);
    if (decoded.expiresAt !== null && decoded.expiresAt <= Date.now()) return NO_VALUE;
    return decoded.value;
  }

  async #write(key: string, value: Uint8Array, expiresAt: number | null): Promise<void> {
    const { shard, file } = this.#paths(key);
    const temp = `${file}.${randomUUID()}.tmp`;
    const data = encodeValueFile(value, expiresAt);
    try {
      try {
        await this.#io.create(temp, data);
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
        await this.#makeShard(shard);
        await this.#io.create(temp, data);
      }
      await this.#io.rename(temp, file);
    } catch (error) {
      await this.#io.unlink(temp).catch(() => {});
      throw toFileBackendError(error, `write the value of "${key}"`, this.#where);
    }
  }

  /** Makes `<directory>/xx/yy`, but never `directory` itself: a removed cache directory is an error. */
  async #makeShard(shard: string): Promise<void> {
    for (const path of [join(shard, '..'), shard]) {
      try {
        await this.#io.mkdir(path);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
      }
    }
  }

  #expiresAt(): number | null {
    return this.#expirationMs === null ? null : Date.now() + this.#expirationMs;
  }

  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    validateKey(key);
    this.#assertOpen(`get "${key}"`);
    return this.#read(key);
  }

  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    for (const key of keys) validateKey(key);
    this.#assertOpen(`get ${keys.length} keys`);
    return mapLimit(keys, (key) => this.#read(key));
  }

  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    validateKey(key);
    this.#assertOpen(`set "${key}"`);
    await this.#write(key, value, this.#expiresAt());
  }

  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const key of mapping.keys()) validateKey(key);
    this.#assertOpen(`set ${mapping.size} keys`);
    const expiresAt = this.#expiresAt();
    await mapLimit([...mapping], ([key, value]) => this.#write(key, value, expiresAt));
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    this.#assertOpen(`delete "${key}"`);
    try {
      await this.#io.unlink(this.#paths(key).file);
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return;
      throw toFileBackendError(error, `delete the value of "${key}"`, this.#where);
    }
  }

  override async deleteMulti(keys: readonly string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    this.#assertOpen(`delete ${keys.length} keys`);
    await mapLimit(keys, (key) => this.delete(key));
  }

  /**
   * The lock of `key`, shared with every process using the lock directory, or `null` with
   * `distributedLock: false`.
   */
  override getMutex(key: string): LeaseMutex | null {
    validateKey(key);
    return this.locks === undefined ? null : this.locks.mutex(key);
  }

  /**
   * Deletes expired values, temporary files of writers that died (older than a minute), and the
   * locks of holders that died. Walks the whole directory: run it from a timer (`pruneInterval`)
   * or a job, not per request. Concurrent calls share one run.
   */
  prune(): Promise<PruneResult> {
    this.#assertOpen('prune the cache');
    this.#pruning ??= this.#prune().finally(() => {
      this.#pruning = undefined;
    });
    return this.#pruning;
  }

  async #prune(): Promise<PruneResult> {
    const result: PruneResult = { expired: 0, temporary: 0, locks: 0 };
    const list = async (path: string): Promise<string[]> => {
      try {
        return await readdir(path);
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
        throw toFileBackendError(error, 'prune the cache', this.#where);
      }
    };
    for (const first of await list(this.directory)) {
      if (!SHARD.test(first)) continue;
      for (const second of await list(join(this.directory, first))) {
        if (!SHARD.test(second)) continue;
        const shard = join(this.directory, first, second);
        for (const name of await list(shard)) {
          if (this.#closed) return result;
          const path = join(shard, name);
          if (name.endsWith('.tmp')) {
            if (await this.#removeIfOlder(path, ORPHAN_TEMP_MS)) result.temporary++;
          } else if (VALUE_FILE.test(name)) {
            if (await this.#removeIfExpired(path)) result.expired++;
          }
        }
      }
    }
    if (this.locks !== undefined) result.locks = await this.locks.prune();
    return result;
  }

  async #removeIfOlder(path: string, ageMs: number): Promise<boolean> {
    try {
      const { mtimeMs } = await lstat(path);
      if (Date.now() - mtimeMs < ageMs) return false;
      await unlink(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Reads only the header. The file is removed only if it is still the one read (same inode), so
   * a fresh value written meanwhile by another process stays.
   */
  async #removeIfExpired(path: string): Promise<boolean> {
    try {
      const handle = await open(path, 'r');
      let ino: number;
      let expiresAt: number | null | undefined;
      try {
        ino = (await handle.stat()).ino;
        const header = Buffer.alloc(HEADER_BYTES);
        const { bytesRead } = await handle.read(header, 0, HEADER_BYTES, 0);
        expiresAt = bytesRead === HEADER_BYTES ? readExpiry(header) : undefined;
      } finally {
        await handle.close();
      }
      // undefined: not a value file at all (damaged or foreign under our name): a miss forever.
      if (expiresAt === null || (expiresAt !== undefined && expiresAt > Date.now())) return false;
      if ((await lstat(path)).ino !== ino) return false;
      await unlink(path);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops the prune timer and gives back the locks this backend's mutexes still hold. Later calls
   * fail with `ERR_FILE_CLOSED`. Idempotent.
   */
  override async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    await this.locks?.close();
    this.#closed = true;
  }
}
