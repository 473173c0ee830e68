import * as path from 'node:path';
import { type DogpileError, makeRegion, ValidationError } from '@dogpile/core';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { SqliteBackend, type SqliteBackendOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

function rejects(options: unknown, message: RegExp): void {
  let caught: unknown;
  try {
    new SqliteBackend(options as SqliteBackendOptions);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  expect((caught as DogpileError).code).toBe('ERR_VALIDATION');
  expect((caught as Error).message).toMatch(message);
}

describe('SqliteBackend options', () => {
  it('needs exactly one of filename and database', () => {
    rejects(undefined, /options object/);
    rejects({}, /exactly one of filename/);
    const db = new Database(':memory:');
    try {
      rejects({ filename: ':memory:', database: db }, /exactly one of filename/);
    } finally {
      db.close();
    }
    rejects({ filename: '' }, /non-empty path/);
    rejects({ filename: 42 }, /non-empty path/);
    rejects({ database: {} }, /better-sqlite3 Database/);
  });

  it('refuses a closed database', () => {
    const db = new Database(':memory:');
    db.close();
    rejects({ database: db }, /closed/);
  });

  it.each([
    'x"; DROP TABLE users; --',
    'cache table',
    '1cache',
    'cache-table',
    'sqlite_cache',
    'SQLITE_master',
    '',
    'a'.repeat(59),
    'cache.values',
    'caché',
  ])('refuses the table name %j without touching the database', (table) => {
    const db = new Database(':memory:');
    try {
      rejects({ database: db, table }, /table must be a plain identifier/);
      expect(
        db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get(),
      ).toBe(0);
    } finally {
      db.close();
    }
  });

  it('refuses a table name that is not a string', () => {
    rejects({ filename: ':memory:', table: 7 }, /table must be a plain identifier/);
  });

  it('accepts plain identifiers up to 58 characters', async () => {
    for (const table of ['_c', 'Cache_2', 'a'.repeat(58)]) {
      const backend = new SqliteBackend({ filename: ':memory:', table });
      const names = backend.database
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(names).toEqual([table, `${table}_locks`]);
      await backend.close();
    }
  });

  it('refuses unknown options, naming them', () => {
    rejects({ filename: ':memory:', lock_timeout: 5 }, /no option "lock_timeout"/);
    rejects({ filename: ':memory:', timeout: 5 }, /no option "timeout"/);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ sqliteExpirationTime: 'soon' }, /sqliteExpirationTime/],
    [{ sqliteExpirationTime: -5 }, /sqliteExpirationTime/],
    [
      { expirationTime: 60, sqliteExpirationTime: 60 },
      /both "expirationTime" and "sqliteExpirationTime"/,
    ],
    [{ busyTimeout: -1 }, /busyTimeout/],
    [{ busyTimeout: '5 minutes' }, /busyTimeout/],
    [{ pruneInterval: 0 }, /pruneInterval must be at least 1 ms/],
    [{ pruneInterval: -1 }, /pruneInterval must be at least 1 ms/],
    [{ lockTimeout: 0 }, /lockTimeout must be more than 0 seconds/],
    [{ lockTimeout: -1 }, /lockTimeout must be more than 0 seconds/],
    [{ lockTimeout: Number.NaN }, /lockTimeout/],
    [{ lockBlockingTimeout: 'forever' }, /lockBlockingTimeout/],
    [{ lockPollMin: 0 }, /lockPollMin must be more than 0 seconds/],
    [{ lockSleep: 0 }, /lockSleep must be more than 0 seconds/],
    [
      { lockPollMin: '50ms', lockPollMax: '10ms' },
      /lockPollMax \(10 ms\) must not be less than lockPollMin \(50 ms\)/,
    ],
    [{ lockSleep: '50ms', lockMaxSleep: '10ms' }, /both "lockSleep" and "lockMaxSleep"/],
    [{ wal: 'yes' as unknown as boolean }, /wal must be true or false/],
    [{ distributedLock: 1 as unknown as boolean }, /distributedLock must be a boolean/],
    [{ integrityCheck: 'no' as unknown as boolean }, /integrityCheck must be true or false/],
    [{ lockAutoExtend: 0 as unknown as boolean }, /lockAutoExtend must be a boolean/],
    [{ lockExtend: 0 as unknown as boolean }, /lockExtend must be a boolean/],
    [{ synchronous: 'normal' as never }, /synchronous must be one of/],
    [{ serializer: { serialize: () => new Uint8Array() } as never }, /serializer/],
    [{ keyMangler: 'sha1' as never }, /keyMangler must be a function/],
  ])('refuses %j', (extra, message) => {
    rejects({ filename: ':memory:', ...extra }, message);
  });

  it('polls a held lock every 5 to 10 ms by default; a longer lockPollMin alone raises the cap', () => {
    expect(resolveOptions({ filename: ':memory:' }).lease).toMatchObject({
      lockPollMinMs: 5,
      lockPollMaxMs: 10,
      lockTimeoutMs: 10_000,
      lockPrefix: '_lock',
      lockAutoExtend: true,
      lockBlockingTimeoutMs: null,
    });
    expect(resolveOptions({ filename: ':memory:' }).distributedLock).toBe(true);
    expect(resolveOptions({ filename: ':memory:', lockPollMin: '50ms' }).lease).toMatchObject({
      lockPollMinMs: 50,
      lockPollMaxMs: 50,
    });
    expect(
      resolveOptions({ filename: ':memory:', lockPollMin: '1ms', lockPollMax: '1s' }).lease,
    ).toMatchObject({ lockPollMinMs: 1, lockPollMaxMs: 1000 });
  });

  it('takes the old names as deprecated aliases, warning once each', () => {
    const spy = vi.spyOn(process, 'emitWarning');
    try {
      const resolved = resolveOptions({
        filename: ':memory:',
        expirationTime: 60,
        lockSleep: '20ms',
        lockExtend: false,
      });
      expect(resolved.expirationMs).toBe(60_000);
      // Python's lock_sleep is the delay between checks, so the longest one.
      expect(resolved.lease).toMatchObject({ lockPollMaxMs: 20, lockAutoExtend: false });
      resolveOptions({ filename: ':memory:', expirationTime: 60, lockSleep: '20ms' });
      const about = (name: string) =>
        spy.mock.calls.filter((call) => String(call[0]).includes(`"${name}" is deprecated`));
      // Nothing earlier in this file used expirationTime; lockSleep may have warned already.
      expect(about('expirationTime')).toHaveLength(1);
      expect(about('expirationTime')[0]![1]).toMatchObject({ type: 'DeprecationWarning' });
      expect(about('lockSleep').length).toBeLessThanOrEqual(1);
      expect(about('lockExtend').length).toBeLessThanOrEqual(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('sqliteExpirationTime: 0 means no expiry, as every expiration time in the project', async () => {
    const backend = new SqliteBackend({ filename: ':memory:', sqliteExpirationTime: 0 });
    try {
      const region = makeRegion().configure(backend);
      await region.set('k', 'v');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await region.get('k')).toBe('v');
    } finally {
      await backend.close();
    }
  });

  it('treats null like unset, as a config file spells None', async () => {
    const backend = new SqliteBackend({
      filename: ':memory:',
      sqliteExpirationTime: null,
      lockBlockingTimeout: null,
      table: null,
    } as unknown as SqliteBackendOptions);
    expect(backend.table).toBe('dogpile_cache');
    await backend.close();
  });

  it('opens a file in WAL mode with synchronous NORMAL and a 5 s busy timeout by default', async () => {
    const backend = new SqliteBackend({ filename: path.join(tempDir(), 'c.db') });
    const db = backend.database;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    await backend.close();
  });

  it('takes durations in seconds or with a unit, and wal: false keeps the rollback journal', async () => {
    const backend = new SqliteBackend({
      filename: path.join(tempDir(), 'c.db'),
      busyTimeout: '250ms',
      wal: false,
      synchronous: 'FULL',
    });
    const db = backend.database;
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250);
    await backend.close();
    const seconds = new SqliteBackend({ filename: ':memory:', busyTimeout: 1.5 });
    expect(seconds.database.pragma('busy_timeout', { simple: true })).toBe(1500);
    await seconds.close();
  });

  it("leaves an adopted database's pragmas alone unless asked, and close() leaves it open", async () => {
    const file = path.join(tempDir(), 'c.db');
    const db = new Database(file, { timeout: 1234 });
    const backend = new SqliteBackend({ database: db });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    await backend.setSerialized('k', new Uint8Array([1]));
    await backend.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) FROM dogpile_cache').pluck().get()).toBe(1);

    const again = new SqliteBackend({ database: db, wal: true, busyTimeout: 2 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(2000);
    await again.close();
    db.close();
  });

  it("registers itself as 'sqlite' for region.configure", async () => {
    const file = path.join(tempDir(), 'c.db');
    const region = makeRegion().configure('sqlite', {
      arguments: { filename: file, table: 'named' },
    });
    expect(region.actualBackend).toBeInstanceOf(SqliteBackend);
    expect((region.actualBackend as SqliteBackend).table).toBe('named');
    expect(await region.getOrCreate('k', () => 'v')).toBe('v');
    await region.close();
    expect(() =>
      makeRegion().configure('sqlite', { arguments: { filename: file, table: 'bad name' } }),
    ).toThrow(ValidationError);
  });
});
