import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteBackend, SqliteBackendError } from '../src/index.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const OPEN_CHILD = fileURLToPath(new URL('./fixtures/open-child.mjs', import.meta.url));
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function openError(options: ConstructorParameters<typeof SqliteBackend>[0]): SqliteBackendError {
  try {
    new SqliteBackend(options);
  } catch (error) {
    expect(error).toBeInstanceOf(SqliteBackendError);
    return error as SqliteBackendError;
  }
  throw new Error('the backend was created');
}

interface ChildOutcome {
  ok: boolean;
  code?: string;
  sqliteCode?: string;
  message?: string;
}

/**
 * Opens `filename` in a child process. Permissions do not bind root, so as root the child runs
 * as nobody; the temp dirs are opened up enough for nobody to reach them.
 */
function openInChild(filename: string): ChildOutcome {
  const result = spawnSync(process.execPath, [OPEN_CHILD, filename], {
    encoding: 'utf8',
    timeout: 20_000,
    ...(isRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  if (result.status !== 0) throw new Error(`open-child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ChildOutcome;
}

/** A valid cache file holding `rows` values, closed (so its WAL is checkpointed away). */
async function cacheFile(file: string, rows: number): Promise<void> {
  const backend = new SqliteBackend({ filename: file });
  const value = new Uint8Array(200).fill(0x41);
  await backend.setSerializedMulti(
    new Map(Array.from({ length: rows }, (_, i) => [`key:${i}`, value])),
  );
  await backend.close();
}

describe('SqliteBackend on bad files', () => {
  it('a file that is not a database fails at creation with ERR_SQLITE_CORRUPT', () => {
    const file = path.join(tempDir(), 'garbage.db');
    fs.writeFileSync(file, Buffer.alloc(16_384, 0x07));
    const error = openError({ filename: file });
    expect(error.code).toBe('ERR_SQLITE_CORRUPT');
    expect(error.sqliteCode).toBe('SQLITE_NOTADB');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/delete the file/);
    // The garbage is left as it was: nothing was written over it.
    expect(fs.readFileSync(file).every((byte) => byte === 0x07)).toBe(true);
  });

  it('a text file in place of the database fails the same way', () => {
    const file = path.join(tempDir(), 'notes.txt');
    fs.writeFileSync(file, 'these are not the pages you are looking for\n'.repeat(200));
    expect(openError({ filename: file }).code).toBe('ERR_SQLITE_CORRUPT');
  });

  it('damaged table pages fail at creation thanks to the integrity check', async () => {
    const file = path.join(tempDir(), 'damaged.db');
    await cacheFile(file, 2000);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(3 * 4096, 0xab), 0, 3 * 4096, 40 * 4096);
    fs.closeSync(fd);

    const error = openError({ filename: file });
    expect(error.code).toBe('ERR_SQLITE_CORRUPT');
    expect(error.message).toMatch(/damaged/);

    // Without the check the damage only shows when a damaged row is read.
    const unchecked = new SqliteBackend({ filename: file, integrityCheck: false });
    const failures: string[] = [];
    for (let i = 0; i < 2000; i++) {
      await unchecked
        .getSerialized(`key:${i}`)
        .catch((e: SqliteBackendError) => failures.push(e.code));
    }
    await unchecked.close();
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(['ERR_SQLITE_CORRUPT']));
  });

  it('a missing directory fails with ERR_SQLITE_OPEN', () => {
    const file = path.join(tempDir(), 'no', 'such', 'dir', 'c.db');
    const error = openError({ filename: file });
    expect(error.code).toBe('ERR_SQLITE_OPEN');
    expect(error.message).toMatch(/does not exist/);
  });

  it('a path under a regular file fails with ERR_SQLITE_OPEN', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'plain'), 'x');
    expect(openError({ filename: path.join(dir, 'plain', 'c.db') }).code).toBe('ERR_SQLITE_OPEN');
  });

  it('a directory that cannot be written fails at creation with ERR_SQLITE_OPEN', () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const readOnlyDir = path.join(dir, 'ro');
    fs.mkdirSync(readOnlyDir, { mode: 0o555 });
    fs.chmodSync(readOnlyDir, 0o555);
    const outcome = openInChild(path.join(readOnlyDir, 'c.db'));
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('ERR_SQLITE_OPEN');
    expect(outcome.message).toMatch(/cannot be opened or created/);
    expect(fs.readdirSync(readOnlyDir)).toEqual([]);
  });

  it('a read-only database file in a writable directory fails at creation with ERR_SQLITE_READONLY', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const file = path.join(dir, 'c.db');
    await cacheFile(file, 10);
    fs.chmodSync(file, 0o444);
    const outcome = openInChild(file);
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('ERR_SQLITE_READONLY');
    expect(outcome.message).toMatch(/cannot be written/);
  });

  it('a read-only file in a read-only directory fails too, even without WAL to switch on', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const inner = path.join(dir, 'ro');
    fs.mkdirSync(inner);
    const file = path.join(inner, 'c.db');
    await cacheFile(file, 10);
    // Already in WAL mode from the first open, so the journal_mode pragma writes nothing.
    fs.chmodSync(file, 0o444);
    fs.chmodSync(inner, 0o555);
    const outcome = openInChild(file);
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe('ERR_SQLITE_READONLY');
  });

  it('the same child opens a writable file fine, so the failures above are the permissions', () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    expect(openInChild(path.join(dir, 'c.db'))).toEqual({ ok: true });
  });

  it('a table of the same name with other columns fails with ERR_SQLITE_SCHEMA', () => {
    const file = path.join(tempDir(), 'c.db');
    const db = new Database(file);
    db.exec('CREATE TABLE dogpile_cache (id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const error = openError({ filename: file });
    expect(error.code).toBe('ERR_SQLITE_SCHEMA');
    expect(error.message).toMatch(/another table option/);
  });

  it('an adopted database is not closed when setup fails, an owned one is', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE dogpile_cache_locks (k TEXT)');
    expect(openError({ database: db }).code).toBe('ERR_SQLITE_SCHEMA');
    expect(db.open).toBe(true);
    db.close();
  });

  it('use after close fails with ERR_SQLITE_CLOSED, close is idempotent', async () => {
    const backend = new SqliteBackend({ filename: path.join(tempDir(), 'c.db') });
    await backend.close();
    await backend.close();
    expect(backend.database.open).toBe(false);
    for (const call of [
      () => backend.getSerialized('k'),
      () => backend.get('k'),
      () => backend.getSerializedMulti(['k']),
      () => backend.setSerialized('k', new Uint8Array([1])),
      () => backend.setSerializedMulti(new Map([['k', new Uint8Array([1])]])),
      () => backend.delete('k'),
      () => backend.deleteMulti(['k']),
      () => backend.prune(),
      () => backend.getMutex('k')!.acquire(false),
      () => backend.getMutex('k')!.locked(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'ERR_SQLITE_CLOSED' });
    }
  });
});
