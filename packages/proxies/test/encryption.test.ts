import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { type CacheBackend, makeRegion, NO_VALUE, ValidationError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { RedisBackend } from '@dogpile/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EncryptionProxy } from '../src/index.js';
import { captureErrors, noRedis, redisUrl, uniquePrefix } from './helpers.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const SECRET = 'the-plaintext-secret-4f2a';

const closers: CacheBackend[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((b) => b.close()));
});

function region(proxy: EncryptionProxy, backend: CacheBackend) {
  closers.push(backend);
  return makeRegion({ name: 'enc' }).configure(backend, { wrap: [proxy] });
}

describe('EncryptionProxy options', () => {
  it('refuses bad keys and options, never showing a key', () => {
    const bad = 'x'.repeat(40); // base64 of 30 bytes
    for (const options of [
      {},
      { keys: {} },
      { keys: { k1: randomBytes(16) } },
      { keys: { k1: bad } },
      { keys: { k1, k2 } },
      { keys: { k1 }, currentKeyId: 'nope' },
      { keys: { k1 }, readPlaintext: 'yes' },
      { keys: { k1 }, color: 'red' },
      { keys: { '': k1 } },
    ]) {
      let error: unknown;
      try {
        new EncryptionProxy(options as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(Object.keys(options))).toBeInstanceOf(ValidationError);
      expect(String((error as Error).message)).not.toContain(bad);
    }
    expect(() => new EncryptionProxy({ keys: { k1: k1.toString('base64') } })).not.toThrow();
    expect(() => new EncryptionProxy({ keys: { k1: k1.toString('hex') } })).not.toThrow();
  });

  it('shows key ids, never keys, in inspect and JSON', () => {
    const proxy = new EncryptionProxy({ keys: { k1, k2 }, currentKeyId: 'k2' });
    const shown = inspect(proxy, { depth: 10, showHidden: true }) + JSON.stringify(proxy);
    for (const key of [k1, k2]) {
      expect(shown).not.toContain(key.toString('hex'));
      expect(shown).not.toContain(key.toString('base64'));
    }
    expect(shown).toContain('k2');
  });
});

describe('EncryptionProxy over a store of objects', () => {
  it('stores only ciphertext and reads it back', async () => {
    const dict = new Map<string, unknown>();
    const r = region(new EncryptionProxy({ keys: { k1 } }), new MemoryBackend({ cacheDict: dict }));
    await r.set('a', { secret: SECRET, when: new Date(0) });
    const stored = dict.get('a') as Uint8Array;
    expect(stored).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(stored).includes(SECRET)).toBe(false);
    expect(await r.get('a')).toEqual({ secret: SECRET, when: new Date(0) });
  });

  it('treats a value stored before encryption as a miss, or reads it with readPlaintext', async () => {
    const dict = new Map<string, unknown>();
    const plain = makeRegion().configure(new MemoryBackend({ cacheDict: dict }));
    await plain.set('a', 1);
    const errors = captureErrors();
    try {
      const strict = region(
        new EncryptionProxy({ keys: { k1 } }),
        new MemoryBackend({ cacheDict: dict }),
      );
      expect(await strict.getOrCreate('a', () => 2)).toBe(2);
      // Reported on each read of it (the region reads again under the lock), then overwritten.
      const codes = new Set(errors.events.map((e) => (e.error as { code?: string }).code));
      expect([...codes]).toEqual(['ERR_PROXY_UNREADABLE']);
      expect(await strict.get('a')).toBe(2);
      await plain.set('b', 3);
      const migrating = region(
        new EncryptionProxy({ keys: { k1 }, readPlaintext: true }),
        new MemoryBackend({ cacheDict: dict }),
      );
      expect(await migrating.get('b')).toBe(3);
    } finally {
      errors.stop();
    }
  });
});

describe.skipIf(noRedis)('EncryptionProxy over Redis', () => {
  const raw = noRedis ? undefined : new Redis(redisUrl());
  afterAll(() => raw?.quit());
  const redis = () => new RedisBackend({ url: redisUrl(), distributedLock: true });

  it('keeps no plaintext in Redis, and the values read back', async () => {
    const key = `${uniquePrefix('enc')}plain`;
    const r = region(new EncryptionProxy({ keys: { k1 } }), redis());
    await r.set(key, { secret: SECRET, n: [1, 2, 3] });
    const bytes = await raw!.getBuffer(key);
    expect(bytes).not.toBeNull();
    expect(bytes!.includes(SECRET)).toBe(false);
    expect(bytes!.includes('"ct"')).toBe(false); // metadata encrypted too
    expect(await r.get(key)).toEqual({ secret: SECRET, n: [1, 2, 3] });
  });

  it('a flipped byte anywhere regenerates, reported, never a wrong value or an error', async () => {
    const key = `${uniquePrefix('enc')}flip`;
    const r = region(new EncryptionProxy({ keys: { k1 } }), redis());
    await r.set(key, 'original');
    const good = (await raw!.getBuffer(key))!;
    const errors = captureErrors();
    try {
      for (const at of [0, 4, 6, good.length - 20, good.length - 1]) {
        const bad = Buffer.from(good);
        bad[at]! ^= 0x01;
        await raw!.set(key, bad);
        let created = 0;
        const value = await r.getOrCreate(key, () => {
          created++;
          return `fresh-${at}`;
        });
        expect(value, `byte ${at}`).toBe(`fresh-${at}`);
        expect(created).toBe(1);
        expect(await r.get(key)).toBe(`fresh-${at}`);
      }
      expect(errors.events.length).toBeGreaterThanOrEqual(5);
      for (const event of errors.events) {
        expect((event.error as { code?: string }).code).toBe('ERR_PROXY_UNREADABLE');
      }
    } finally {
      errors.stop();
    }
  });

  it('a value copied under another key, truncated, or foreign is a miss', async () => {
    const prefix = uniquePrefix('enc');
    const r = region(new EncryptionProxy({ keys: { k1 } }), redis());
    await r.set(`${prefix}a`, 'A');
    const bytes = (await raw!.getBuffer(`${prefix}a`))!;
    await raw!.set(`${prefix}b`, bytes);
    await raw!.set(`${prefix}c`, bytes.subarray(0, 20));
    await raw!.set(`${prefix}d`, '{"ct": 1, "v": 2}|"python wrote me"');
    const errors = captureErrors();
    try {
      for (const k of ['b', 'c', 'd']) {
        expect(await r.get(`${prefix}${k}`), k).toBe(NO_VALUE);
      }
      expect(await r.getMulti([`${prefix}a`, `${prefix}b`])).toEqual(['A', NO_VALUE]);
    } finally {
      errors.stop();
    }
  });

  it('rotation: old values read with the old key, new ones written with the new', async () => {
    const prefix = uniquePrefix('enc');
    const before = region(new EncryptionProxy({ keys: { k1 } }), redis());
    await before.set(`${prefix}old`, 'written with k1');
    const after = region(new EncryptionProxy({ keys: { k1, k2 }, currentKeyId: 'k2' }), redis());
    expect(await after.get(`${prefix}old`)).toBe('written with k1');
    await after.set(`${prefix}new`, 'written with k2');
    const frameId = (b: Buffer) => b.subarray(5, 5 + b[4]!).toString();
    expect(frameId((await raw!.getBuffer(`${prefix}old`))!)).toBe('k1');
    expect(frameId((await raw!.getBuffer(`${prefix}new`))!)).toBe('k2');
    // A process that only knows k1 cannot read k2's values: a miss, not garbage.
    const errors = captureErrors();
    try {
      expect(await before.get(`${prefix}new`)).toBe(NO_VALUE);
      // Once k1 is dropped from the ring, its values are misses and regenerate.
      const later = region(new EncryptionProxy({ keys: { k2 } }), redis());
      expect(await later.getOrCreate(`${prefix}old`, () => 'regenerated')).toBe('regenerated');
    } finally {
      errors.stop();
    }
  });
});
