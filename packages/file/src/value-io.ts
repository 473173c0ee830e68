import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';

/** The file operations of the value path, synchronous or not (`syncIO`), behind one async shape. */
export interface ValueIo {
  read(path: string): Promise<Buffer>;
  /** Creates `path` (failing if it exists) with `data`. */
  create(path: string, data: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
}

/**
 * Synchronous calls: on a local disk a small cached file is read in microseconds, less than the
 * thread-pool round trips of one async call (four for a `readFile`).
 */
export const syncIo: ValueIo = {
  read: async (path) => readFileSync(path),
  create: async (path, data) => writeFileSync(path, data, { flag: 'wx' }),
  rename: async (from, to) => renameSync(from, to),
  unlink: async (path) => unlinkSync(path),
  mkdir: async (path) => {
    mkdirSync(path);
  },
};

/** Node's thread pool: the event loop never waits on the disk (network file systems, slow disks). */
export const asyncIo: ValueIo = {
  read: (path) => readFile(path),
  create: (path, data) => writeFile(path, data, { flag: 'wx' }),
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  mkdir: async (path) => {
    await mkdir(path);
  },
};
