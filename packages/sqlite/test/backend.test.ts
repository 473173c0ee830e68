import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import * as path from 'node:path';
import { CachedValue, isNoValue, makeRegion, NO_VALUE, v8Serializer } from '@dogpile/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend, type SqliteBackendOptions } from '../src/index.js';
import { eventually, sleep, useTempDirs } from './helpers.js';

const tempDir = useTempDirs();
const open: SqliteBackend[] = [];
afterEach(async () => {
  for (const backend of open.splice(0)) await backend.close();
});

function backendOn(file: string, options: Partial<SqliteBackendOptions> = {}): SqliteBackend {
  const backend = new SqliteBackend({ filename: file, ...options });
  open.push(backend);
  return backend;
}

const bytes = (...values: number[]) => new Uint8Array(values);
const rowCount = (backend: SqliteBackend) =>
  backend.database.prepare(`SELECT count(*) FROM "${backend.table}"`).pluck().get() as number;

describe('SqliteBackend storage', () => {
  it('stores, reads, overwrites and deletes bytes', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'));
    expect(await backend.getSerialized('k')).toBe(NO_VALUE);
    await backend.setSerialized('k', bytes(1, 2, 3));
    expect(Array.from((await backend.getSerialized('k')) as Uint8Array)).toEqual([1, 2, 3]);
    await backend.setSerialized('k', bytes(9));
    expect(Array.from((await backend.getSerialized('k')) as Uint8Array)).toEqual([9]);
    await backend.delete('k');
    await backend.delete('k');
    expect(await backend.getSerialized('k')).toBe(NO_VALUE);
    expect(rowCount(backend)).toBe(0);
  });

  it('stores exactly the viewed bytes of a Uint8Array that is a slice of a larger buffer', async () => {
    const backend = backendOn(':memory:');
    const buffer = new Uint8Array([10, 11, 12, 13, 14, 15]);
    await backend.setSerialized('k', buffer.subarray(2, 5));
    expect(Array.from((await backend.getSerialized('k')) as Uint8Array)).toEqual([12, 13, 14]);
    await backend.setSerialized('empty', new Uint8Array(0));
    expect(((await backend.getSerialized('empty')) as Uint8Array).length).toBe(0);
  });

  it('keeps keys apart that differ only in case, whitespace or unicode form', async () => {
    const backend = backendOn(':memory:');
    const keys = ['K', 'k', 'k ', ' k', 'é', 'e\u0301', '', 'a\u0000b', '🔑', 'quote\'"`'];
    await backend.setSerializedMulti(new Map(keys.map((key, i) => [key, bytes(i)])));
    for (const [i, key] of keys.entries()) {
      expect(Array.from((await backend.getSerialized(key)) as Uint8Array)).toEqual([i]);
    }
    const multi = await backend.getSerializedMulti(keys);
    expect(multi.map((value) => (value as Uint8Array)[0])).toEqual(keys.map((_, i) => i));
  });

  it('multi operations keep order, report misses and tolerate duplicates and empty input', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'));
    await backend.setSerializedMulti(
      new Map([
        ['a', bytes(1)],
        ['b', bytes(2)],
        ['c', bytes(3)],
      ]),
    );
    const values = await backend.getSerializedMulti(['c', 'missing', 'a', 'c']);
    expect(
      values.map((value) => (isNoValue(value) ? null : Array.from(value as Uint8Array))),
    ).toEqual([[3], null, [1], [3]]);
    expect(await backend.getSerializedMulti([])).toEqual([]);
    await backend.setSerializedMulti(new Map());
    await backend.deleteMulti([]);
    await backend.deleteMulti(['a', 'c', 'missing', 'a']);
    expect(rowCount(backend)).toBe(1);
    expect(await backend.getSerializedMulti(['a', 'b'])).toEqual([
      NO_VALUE,
      expect.any(Uint8Array),
    ]);
  });

  it('setMulti is one transaction: a failing value leaves none of the batch behind', async () => {
    const backend = backendOn(':memory:');
    // null violates the NOT NULL value column after 'a' was already written in the transaction.
    const mapping = new Map<string, Uint8Array>([
      ['a', bytes(1)],
      ['b', null as unknown as Uint8Array],
    ]);
    await expect(backend.setSerializedMulti(mapping)).rejects.toMatchObject({ code: 'ERR_SQLITE' });
    expect(rowCount(backend)).toBe(0);
  });

  it('round-trips CachedValues through the JSON wire format Python dogpile.cache reads', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'));
    const value = new CachedValue({ name: 'ada', tags: ['x'] }, { ct: 1700000000.25, v: 2 });
    await backend.set('user', value);
    const raw = backend.database
      .prepare(`SELECT value FROM "${backend.table}" WHERE key = ?`)
      .pluck()
      .get('user') as Buffer;
    expect(raw.toString('utf8')).toBe('{"ct":1700000000.25,"v":2}|{"name":"ada","tags":["x"]}');
    const read = (await backend.get('user')) as CachedValue;
    expect(read.payload).toEqual({ name: 'ada', tags: ['x'] });
    expect(read.metadata.ct).toBe(1700000000.25);
  });

  it('uses the serializer option', async () => {
    const backend = backendOn(':memory:', { serializer: v8Serializer });
    await backend.set('m', new CachedValue(new Map([[1, new Date(5)]]), { ct: 1, v: 2 }));
    const read = (await backend.get('m')) as CachedValue;
    expect(read.payload).toEqual(new Map([[1, new Date(5)]]));
  });

  it('two connections to one file share values; two tables in one file do not', async () => {
    const file = path.join(tempDir(), 'c.db');
    const one = backendOn(file);
    const two = backendOn(file);
    const other = backendOn(file, { table: 'other_cache' });
    await one.setSerialized('k', bytes(7));
    expect(Array.from((await two.getSerialized('k')) as Uint8Array)).toEqual([7]);
    expect(await other.getSerialized('k')).toBe(NO_VALUE);
    await two.delete('k');
    expect(await one.getSerialized('k')).toBe(NO_VALUE);
  });
});

describe('SqliteBackend expiry', () => {
  it('without expirationTime rows never expire', async () => {
    const backend = backendOn(':memory:');
    await backend.setSerialized('k', bytes(1));
    const expiresAt = backend.database
      .prepare(`SELECT expires_at FROM "${backend.table}"`)
      .pluck()
      .get();
    expect(expiresAt).toBeNull();
  });

  it('an expired row reads as a miss and is deleted by that read', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'), { sqliteExpirationTime: '150ms' });
    const before = Date.now();
    await backend.setSerialized('k', bytes(1));
    const expiresAt = backend.database
      .prepare(`SELECT expires_at FROM "${backend.table}"`)
      .pluck()
      .get() as number;
    expect(expiresAt).toBeGreaterThanOrEqual(before + 150);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 150);
    expect(Array.from((await backend.getSerialized('k')) as Uint8Array)).toEqual([1]);
    await sleep(expiresAt - Date.now() + 20);
    expect(rowCount(backend)).toBe(1);
    expect(await backend.getSerialized('k')).toBe(NO_VALUE);
    expect(rowCount(backend)).toBe(0);
  });

  it('getMulti reports and deletes expired rows, keeping fresh ones', async () => {
    const backend = backendOn(':memory:', { sqliteExpirationTime: 3600 });
    await backend.setSerializedMulti(
      new Map([
        ['old', bytes(1)],
        ['new', bytes(2)],
      ]),
    );
    backend.database
      .prepare(`UPDATE "${backend.table}" SET expires_at = ? WHERE key = 'old'`)
      .run(Date.now() - 1);
    const values = await backend.getSerializedMulti(['old', 'new']);
    expect(values[0]).toBe(NO_VALUE);
    expect(Array.from(values[1] as Uint8Array)).toEqual([2]);
    expect(rowCount(backend)).toBe(1);
  });

  it('prune() deletes expired values and expired locks only, and counts the values', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'), {
      sqliteExpirationTime: 3600,
      lockTimeout: 60,
    });
    const table = `"${backend.table}"`;
    await backend.setSerializedMulti(
      new Map(Array.from({ length: 2500 }, (_, i) => [`k${i}`, bytes(i % 256)] as const)),
    );
    backend.database
      .prepare(`UPDATE ${table} SET expires_at = ? WHERE CAST(substr(key, 2) AS INTEGER) % 2 = 0`)
      .run(Date.now() - 10);
    const forever = new SqliteBackend({ database: backend.database });
    await forever.setSerialized('forever', bytes(0));
    await forever.close();

    const held = backend.getMutex('held')!;
    expect(await held.acquire(false)).toBe(true);
    backend.database
      .prepare(
        `INSERT INTO "${backend.table}_locks" (key, token, expires_at) VALUES ('_lockdead', 't', ?)`,
      )
      .run(Date.now() - 1);

    expect(await backend.prune()).toBe(1250);
    expect(rowCount(backend)).toBe(1251);
    expect(await backend.prune()).toBe(0);
    const lockKeys = backend.database
      .prepare(`SELECT key FROM "${backend.table}_locks"`)
      .pluck()
      .all();
    expect(lockKeys).toEqual(['_lockheld']);
    await held.release();
  });

  it('concurrent prune() calls share one run', async () => {
    const backend = backendOn(':memory:', { sqliteExpirationTime: 3600 });
    await backend.setSerializedMulti(
      new Map(Array.from({ length: 3000 }, (_, i) => [`k${i}`, bytes(1)])),
    );
    backend.database.prepare(`UPDATE "${backend.table}" SET expires_at = 1`).run();
    const [a, b] = await Promise.all([backend.prune(), backend.prune()]);
    expect(a).toBe(3000);
    expect(b).toBe(3000);
    expect(rowCount(backend)).toBe(0);
  });

  it('pruneInterval prunes on its own without keeping the process alive', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'), {
      sqliteExpirationTime: '50ms',
      pruneInterval: '100ms',
    });
    await backend.setSerializedMulti(
      new Map([
        ['a', bytes(1)],
        ['b', bytes(2)],
      ]),
    );
    expect(rowCount(backend)).toBe(2);
    expect(await eventually(() => rowCount(backend) === 0, 3000)).toBe(true);
  });

  it('region values outlive their region expiry when the server-side expiry is longer', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'), { sqliteExpirationTime: 60 });
    const region = makeRegion().configure(backend, { expirationTime: 0.05 });
    let calls = 0;
    const creator = async () => {
      calls += 1;
      return calls;
    };
    expect(await region.getOrCreate('k', creator)).toBe(1);
    await sleep(80);
    // Stale but present: one caller regenerates, the value is still there to read meanwhile.
    expect(isNoValue(await backend.get('k'))).toBe(false);
    expect(await region.getOrCreate('k', creator)).toBe(2);
  });
});

describe('SqliteBackend through a region', () => {
  it('getOrCreate stores, hits, and getOrCreateMulti batches', async () => {
    const backend = backendOn(path.join(tempDir(), 'c.db'));
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    let calls = 0;
    const creator = async () => ({ n: ++calls });
    expect(await region.getOrCreate('k', creator)).toEqual({ n: 1 });
    expect(await region.getOrCreate('k', creator)).toEqual({ n: 1 });
    const multi = await region.getOrCreateMulti(['k', 'x', 'y'], (...keys) =>
      keys.map((key) => `made ${key}`),
    );
    expect(multi).toEqual([{ n: 1 }, 'made x', 'made y']);
    expect(rowCount(backend)).toBe(3);
    await region.deleteMulti(['x', 'y']);
    expect(rowCount(backend)).toBe(1);
  });

  it('uses the keyMangler option', async () => {
    const backend = backendOn(':memory:', { keyMangler: (key) => `ns:${key}` });
    const region = makeRegion().configure(backend);
    await region.set('k', 1);
    const keys = backend.database.prepare(`SELECT key FROM "${backend.table}"`).pluck().all();
    expect(keys).toEqual(['ns:k']);
  });

  it('distributedLock: false gives no mutex', () => {
    expect(backendOn(':memory:', { distributedLock: false }).getMutex('k')).toBeNull();
    expect(backendOn(':memory:').getMutex('k')).not.toBeNull();
  });
});

describe('SqliteBackend rows it did not write', () => {
  it.each([
    ['an INTEGER', 42],
    ['a REAL', 1.5],
    ['a TEXT', '{"ct":1,"v":2}|"text"'],
  ])(
    'a value column holding %s is a miss, reported, then regenerated and replaced',
    async (_, stored) => {
      const backend = backendOn(path.join(tempDir(), 'c.db'));
      const region = makeRegion({ name: 'foreign' }).configure(backend, { expirationTime: 60 });
      await region.set('k', 'mine');
      backend.database
        .prepare(`UPDATE "${backend.table}" SET value = ? WHERE key = 'k'`)
        .run(stored);
      const events: unknown[] = [];
      const listener = (event: unknown) => events.push(event);
      subscribe('dogpile:error', listener);
      try {
        expect(await region.get('k')).toBe(NO_VALUE);
        expect(await region.getMulti(['k'])).toEqual([NO_VALUE]);
        expect(await region.getOrCreate('k', () => 'fresh')).toBe('fresh');
        expect(await region.get('k')).toBe('fresh');
        // Replaced by bytes again.
        const type = backend.database
          .prepare(`SELECT typeof(value) FROM "${backend.table}" WHERE key = 'k'`)
          .pluck()
          .get();
        expect(type).toBe('blob');
      } finally {
        unsubscribe('dogpile:error', listener);
      }
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) {
        expect(event).toMatchObject({
          operation: 'deserialize',
          error: { code: 'ERR_CANT_DESERIALIZE' },
        });
      }
    },
  );
});
