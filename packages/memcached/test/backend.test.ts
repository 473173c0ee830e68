import { CachedValue, makeRegion, NO_VALUE, sha1MangleKey, ValidationError } from '@dogpile/core';
import memjs from 'memjs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { exptime, MemcachedBackend, MemcachedBackendError, wireKey } from '../src/index.js';
import {
  captureErrors,
  makeBackend,
  noServers,
  single,
  sleep,
  targets,
  trio,
  uniquePrefix,
} from './helpers.js';

const meta = (ct = Date.now() / 1000) => ({ ct, v: 2 as const });
const text = async (client: memjs.Client, key: string) =>
  (await client.get(key)).value?.toString('utf8') ?? null;

describe.skipIf(noServers).each(targets)('MemcachedBackend storage ($name)', (target) => {
  const p = uniquePrefix('backend');

  it('stores, reads and deletes values in the layout Python dogpile.cache reads', async () => {
    const backend = makeBackend(target);
    expect(await backend.get(`${p}a`)).toBe(NO_VALUE);
    await backend.set(`${p}a`, new CachedValue([1, 'two'], meta(1700000001.25)));
    expect(await text(target.raw(), `${p}a`)).toBe('{"ct":1700000001.25,"v":2}|[1,"two"]');
    // What Python's json.dumps writes: spaces after ':' and ','.
    await target.raw().set(`${p}py`, '{"ct": 1700000002.5, "v": 2}|{"a": [1, 2]}', {});
    const read = (await backend.get(`${p}py`)) as CachedValue;
    expect(read.payload).toEqual({ a: [1, 2] });
    await backend.delete(`${p}a`);
    expect(await backend.get(`${p}a`)).toBe(NO_VALUE);
    await backend.delete(`${p}a`); // deleting a missing key is fine
  });

  it('getMulti, setMulti and deleteMulti over many keys (spread over the servers)', async () => {
    const backend = makeBackend(target);
    const keys = Array.from({ length: 60 }, (_, i) => `${p}multi:${i}`);
    await backend.setMulti(new Map(keys.map((key, i) => [key, new CachedValue(i, meta())])));
    const values = await backend.getMulti([...keys, `${p}missing`]);
    expect(values.slice(0, 60).map((v) => (v as CachedValue).payload)).toEqual(
      keys.map((_, i) => i),
    );
    expect(values[60]).toBe(NO_VALUE);
    await backend.deleteMulti(keys.slice(0, 30));
    const after = await backend.getMulti(keys);
    expect(after.filter((v) => v === NO_VALUE)).toHaveLength(30);
    if (target === trio) {
      // Each of the three servers holds some of the keys, where memjs puts them.
      const perServer = await Promise.all(
        trio
          .servers()
          .split(',')
          .map(async (address) => {
            const client = memjs.Client.create(address, { logger: { log() {} } });
            try {
              const found = await Promise.all(keys.slice(30).map((key) => client.get(key)));
              return found.filter((r) => r.value !== null).length;
            } finally {
              client.close();
            }
          }),
      );
      expect(
        perServer.every((n) => n > 0),
        `keys per server: ${perServer}`,
      ).toBe(true);
      expect(perServer.reduce((a, b) => a + b)).toBe(30);
    }
  });

  it('getMulti sends every GET before the first reply comes back (no round trip per key)', async () => {
    const backend = makeBackend(target);
    const keys = Array.from({ length: 20 }, (_, i) => `${p}conc:${i}`);
    await backend.getMulti(keys); // connects
    const events: string[] = [];
    const restore: Array<() => void> = [];
    for (const server of backend.client.servers) {
      const write = server.write;
      const responseHandler = server.responseHandler;
      server.write = function (this: memjs.Server, blob) {
        // One write may carry several requests: one binary protocol header each.
        const bytes = Buffer.from(blob as Uint8Array);
        for (let at = 0; at < bytes.length; at += 24 + bytes.readUInt32BE(at + 8)) {
          events.push('request');
        }
        return write.call(this, blob);
      };
      server.responseHandler = function (this: memjs.Server, data) {
        events.push('reply');
        return responseHandler.call(this, data);
      };
      restore.push(() => {
        server.write = write;
        server.responseHandler = responseHandler;
      });
    }
    try {
      await backend.getMulti(keys);
    } finally {
      for (const undo of restore) undo();
    }
    expect(events.indexOf('reply')).toBe(20);
    expect(events.filter((e) => e === 'request')).toHaveLength(20);
  });

  it('requests made in one tick go out in one write per server', async () => {
    const backend = makeBackend(target);
    await backend.get(`${p}same-server`); // connects to its server
    let writes = 0;
    const restore = backend.client.servers.map((server) => {
      const write = server.write;
      server.write = function (this: memjs.Server, blob) {
        writes++;
        return write.call(this, blob);
      };
      return () => {
        server.write = write;
      };
    });
    try {
      // One key: one server.
      const keys = Array.from({ length: 64 }, () => `${p}same-server`);
      await Promise.all(keys.map((key) => backend.get(key)));
    } finally {
      for (const undo of restore) undo();
    }
    expect(writes).toBe(1);
  });

  it('keys Memcached cannot store are stored under their SHA-1, deterministically, and stay apart', async () => {
    const backend = makeBackend(target);
    const prefix = `${p}${'x'.repeat(260)}`;
    const [one, two] = [`${prefix}:one`, `${prefix}:two`];
    await backend.set(one, new CachedValue('one', meta()));
    await backend.set(two, new CachedValue('two', meta()));
    expect(((await backend.get(one)) as CachedValue).payload).toBe('one');
    expect(((await backend.get(two)) as CachedValue).payload).toBe('two');
    // Under sha1MangleKey's key, where a Python process mangling with sha1_mangle_key finds it.
    expect(wireKey(one)).toBe(sha1MangleKey(one));
    expect(await text(target.raw(), sha1MangleKey(one))).toContain('"one"');
    // Exactly 250 bytes is stored as it is; 251 is not; spaces and control characters neither.
    const fits = `${p}${'y'.repeat(250 - p.length)}`;
    expect(wireKey(fits)).toBe(fits);
    expect(wireKey(`${fits}y`)).toBe(sha1MangleKey(`${fits}y`));
    expect(wireKey(`${p}a b`)).toBe(sha1MangleKey(`${p}a b`));
    expect(wireKey(`${p}a\nb`)).toBe(sha1MangleKey(`${p}a\nb`));
    expect(wireKey('')).toBe(sha1MangleKey(''));
    // 84 three-byte characters are 252 bytes.
    expect(wireKey('€'.repeat(84))).toBe(sha1MangleKey('€'.repeat(84)));
    expect(wireKey('€'.repeat(83))).toBe('€'.repeat(83));
    for (const key of [`${p}a b`, `${p}tab\there`, `${p}€`]) {
      await backend.set(key, new CachedValue(key, meta()));
      expect(((await backend.get(key)) as CachedValue).payload).toBe(key);
    }
  });

  it('memcachedExpireTime: the server drops values after it; over 30 days it is sent as a date', async () => {
    const short = makeBackend(target, { memcachedExpireTime: 1 });
    await short.set(`${p}short`, new CachedValue(1, meta()));
    expect(await short.get(`${p}short`)).not.toBe(NO_VALUE);
    await sleep(1100);
    expect(await short.get(`${p}short`)).toBe(NO_VALUE);
    // 40 days as a bare number would be a date in 1970: the value would be gone at once.
    const long = makeBackend(target, { memcachedExpireTime: 40 * 86400 });
    await long.setMulti(new Map([[`${p}long`, new CachedValue(2, meta())]]));
    await sleep(50);
    expect(((await long.get(`${p}long`)) as CachedValue).payload).toBe(2);
    expect(exptime(40 * 86400, 1_700_000_000_000)).toBe(1_700_000_000 + 40 * 86400);
    expect(exptime(30 * 86400)).toBe(30 * 86400);
  });

  it('a value over the item size limit: a typed error reported once, the creator value returned, nothing stale left', async () => {
    const backend = makeBackend(target);
    const key = `${p}huge`;
    await backend.set(key, new CachedValue('small and old', meta(1)));
    const errors = captureErrors();
    try {
      const region = makeRegion().configure(backend, { expirationTime: 1e-3 });
      const huge = 'z'.repeat(3 * 1024 * 1024); // the test servers run with -I 2m
      await sleep(5);
      expect(await region.getOrCreate(key, () => huge)).toBe(huge);
      expect(await region.getOrCreate(key, () => huge)).toBe(huge);
      const ours = errors.events.filter((e) => e.error instanceof MemcachedBackendError);
      expect(ours).toHaveLength(1);
      expect((ours[0]!.error as MemcachedBackendError).code).toBe('ERR_MEMCACHED_VALUE_TOO_LARGE');
      expect((ours[0]!.error as Error).message).toMatch(/item size limit.*-I/);
      // Memcached dropped the old value rather than keep serving it.
      expect(await backend.get(key)).toBe(NO_VALUE);
    } finally {
      errors.stop();
    }
    const strict = makeBackend(target, { onValueTooLarge: 'throw' });
    const error = await strict
      .set(key, new CachedValue('z'.repeat(3 * 1024 * 1024), meta()))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemcachedBackendError);
    expect((error as MemcachedBackendError).code).toBe('ERR_MEMCACHED_VALUE_TOO_LARGE');
  });

  it('foreign or corrupt bytes under a key are a miss the region regenerates, never a wrong value', async () => {
    const backend = makeBackend(target);
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    const errors = captureErrors(); // the region reports each unreadable value
    onTestFinished(() => errors.stop());
    for (const [i, junk] of [
      'not dogpile',
      '{"ct":1,"v":2}|{broken',
      '\u0080\u0081|x',
      '',
    ].entries()) {
      const key = `${p}junk:${i}`;
      await target.raw().set(key, junk, {});
      expect(await region.getOrCreate(key, () => `fresh ${i}`)).toBe(`fresh ${i}`);
      expect(await region.get(key)).toBe(`fresh ${i}`);
    }
  });

  it('checks keys in every call', async () => {
    const backend = makeBackend(target, { distributedLock: true });
    const bad = [1, null, 'lone \uD800'] as unknown as string[];
    for (const key of bad) {
      await expect(backend.get(key)).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.getMulti([key])).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.set(key, new CachedValue(1, meta()))).rejects.toBeInstanceOf(
        ValidationError,
      );
      await expect(
        backend.setMulti(new Map([[key, new CachedValue(1, meta())]])),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.delete(key)).rejects.toBeInstanceOf(ValidationError);
      await expect(backend.deleteMulti([key])).rejects.toBeInstanceOf(ValidationError);
      expect(() => backend.getMutex(key)).toThrow(ValidationError);
    }
  });
});

describe.skipIf(noServers)('MemcachedBackend with a memjs client of its own', () => {
  it('uses it, and close() leaves it open for its owner', async () => {
    const p = uniquePrefix('client');
    const client = memjs.Client.create(single.servers(), { logger: { log() {} } });
    try {
      const backend = new MemcachedBackend({ client, distributedLock: true });
      expect(backend.client).toBe(client);
      await backend.set(`${p}k`, new CachedValue('v', meta()));
      const mutex = backend.getMutex(`${p}k`)!;
      expect(await mutex.acquire(false)).toBe(true);
      await backend.close();
      // The lease went back at close, and the client still works.
      expect((await client.get(`_lock${p}k`)).value).toBeNull();
      expect(await text(client, `${p}k`)).toContain('"v"');
      await expect(backend.get(`${p}k`)).rejects.toMatchObject({ code: 'ERR_MEMCACHED_CLOSED' });
    } finally {
      client.close();
    }
  });
});
