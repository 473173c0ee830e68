import { spawnSync } from 'node:child_process';
import { type CacheBackend, makeRegion, ValidationError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { RedisBackend } from '@dogpile/redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CompressionProxy } from '../src/index.js';
import { captureErrors, noRedis, redisUrl, uniquePrefix } from './helpers.js';

const closers: CacheBackend[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((b) => b.close()));
});

function region(proxy: CompressionProxy, backend: CacheBackend) {
  closers.push(backend);
  return makeRegion({ name: 'zip' }).configure(backend, { wrap: [proxy] });
}

const big = { text: 'dogpile '.repeat(2000), list: Array.from({ length: 200 }, (_, i) => i % 7) };

describe('CompressionProxy options', () => {
  it('refuses bad options', () => {
    for (const options of [
      { algorithm: 'zstd' },
      { threshold: -1 },
      { threshold: 1.5 },
      { level: 10 },
      { algorithm: 'brotli', level: 12 },
      { maxDecompressedBytes: 0 },
      { serializer: {} },
      { speed: 'fast' },
    ]) {
      expect(() => new CompressionProxy(options as never), JSON.stringify(options)).toThrow(
        ValidationError,
      );
    }
  });
});

describe('CompressionProxy over a store of objects', () => {
  for (const algorithm of ['gzip', 'brotli'] as const) {
    it(`${algorithm}: values over the threshold are stored compressed, smaller ones as they are`, async () => {
      const dict = new Map<string, unknown>();
      const r = region(
        new CompressionProxy({ algorithm, threshold: 256 }),
        new MemoryBackend({ cacheDict: dict }),
      );
      await r.set('big', big);
      await r.set('small', 'tiny');
      const stored = dict.get('big') as Uint8Array;
      expect(stored.subarray(0, 4)).toEqual(
        new Uint8Array([0, 0x64, 0x7a, algorithm === 'gzip' ? 1 : 2]),
      );
      expect(stored.length).toBeLessThan(JSON.stringify(big).length / 10);
      expect((dict.get('small') as Uint8Array)[0]).toBe(0x7b); // '{': the plain wire format
      expect(await r.get('big')).toEqual(big);
      expect(await r.get('small')).toBe('tiny');
    });
  }

  it('reads values written before it was added', async () => {
    const dict = new Map<string, unknown>();
    await makeRegion()
      .configure(new MemoryBackend({ cacheDict: dict }))
      .set('a', { x: 1 });
    const r = region(new CompressionProxy(), new MemoryBackend({ cacheDict: dict }));
    expect(await r.get('a')).toEqual({ x: 1 });
  });
});

describe.skipIf(noRedis)('CompressionProxy over Redis', () => {
  const raw = noRedis ? undefined : new Redis(redisUrl());
  afterAll(() => raw?.quit());
  const redis = () => new RedisBackend({ url: redisUrl() });

  it('stores fewer bytes, and reads back; reads both algorithms', async () => {
    const prefix = uniquePrefix('zip');
    const gz = region(new CompressionProxy(), redis());
    const br = region(new CompressionProxy({ algorithm: 'brotli' }), redis());
    await gz.set(`${prefix}g`, big);
    await br.set(`${prefix}b`, big);
    for (const k of ['g', 'b']) {
      const bytes = (await raw!.getBuffer(`${prefix}${k}`))!;
      expect(bytes.length).toBeLessThan(JSON.stringify(big).length / 10);
    }
    expect(await gz.get(`${prefix}b`)).toEqual(big);
    expect(await br.get(`${prefix}g`)).toEqual(big);
  });

  it('reads uncompressed values in the wire format Python dogpile.cache writes', async () => {
    const key = `${uniquePrefix('zip')}py`;
    await raw!.set(key, `{"ct": ${Date.now() / 1000}, "v": 2}|{"from": "python"}`);
    const r = region(new CompressionProxy(), redis());
    expect(await r.get(key)).toEqual({ from: 'python' });
  });

  it('a damaged compressed value, or one over maxDecompressedBytes, is a miss and regenerates', async () => {
    const prefix = uniquePrefix('zip');
    const r = region(new CompressionProxy({ maxDecompressedBytes: 1_000_000 }), redis());
    await r.set(`${prefix}a`, big);
    const good = (await raw!.getBuffer(`${prefix}a`))!;
    const damaged = Buffer.from(good);
    damaged[good.length - 5]! ^= 0xff;
    await raw!.set(`${prefix}damaged`, damaged);
    await raw!.set(`${prefix}truncated`, good.subarray(0, good.length / 2));
    await raw!.set(
      `${prefix}unknown`,
      Buffer.concat([good.subarray(0, 3), Buffer.from([9]), good.subarray(4)]),
    );
    // A "zip bomb": 2 MB of zeros in a few KB.
    const bomb = region(new CompressionProxy({ threshold: 0 }), redis());
    await bomb.set(`${prefix}bomb`, '0'.repeat(2_000_000));
    const errors = captureErrors();
    try {
      for (const k of ['damaged', 'truncated', 'unknown', 'bomb']) {
        let created = 0;
        const value = await r.getOrCreate(`${prefix}${k}`, () => {
          created++;
          return k;
        });
        expect(value, k).toBe(k);
        expect(created, k).toBe(1);
      }
      const codes = errors.events.map((e) => (e.error as { code?: string }).code);
      // Reported once per state change: the first unreadable value, not each of the four.
      expect(codes).toEqual(['ERR_PROXY_UNREADABLE']);
      // A readable value ends the state; the next unreadable one is reported again.
      expect(await r.get(`${prefix}a`)).toEqual(big);
      await raw!.set(`${prefix}damaged-again`, damaged);
      expect(await r.getOrCreate(`${prefix}damaged-again`, () => 'again')).toBe('again');
      expect(errors.events).toHaveLength(2);
    } finally {
      errors.stop();
    }
  });
});

/** Python dogpile.cache on the same Redis, when a python3 with dogpile.cache and redis exists. */
const python = (() => {
  for (const candidate of [process.env.DOGPILE_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!candidate) continue;
    const probe = spawnSync(candidate, ['-c', 'import dogpile.cache, redis'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  if (process.env.CI) throw new Error('no python3 with dogpile.cache and redis, and CI is set');
  console.warn('SKIPPED: compression python-interop: no python3 with dogpile.cache and redis');
  return undefined;
})();

const PY = `
import json, sys
from dogpile.cache import make_region
from dogpile.cache.api import NO_VALUE
url, command, key = sys.argv[1], sys.argv[2], sys.argv[3]
region = make_region(
    serializer=lambda v: json.dumps(v).encode("utf-8"),
    deserializer=lambda b: json.loads(b),
).configure("dogpile.cache.redis", expiration_time=3600, arguments={"url": url})
if command == "get":
    value = region.get(key)
    print(json.dumps({"missing": True} if value is NO_VALUE else {"value": value}))
else:
    region.set(key, json.loads(sys.argv[4]))
    print(json.dumps({"ok": True}))
`;

function py(...args: string[]): unknown {
  const out = spawnSync(python!, ['-c', PY, redisUrl(), ...args], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!);
}

describe.skipIf(noRedis || !python)(
  'CompressionProxy and Python dogpile.cache on one Redis',
  () => {
    it('reads what Python wrote; Python reads values under the threshold', async () => {
      const prefix = uniquePrefix('zip-py');
      const r = region(
        new CompressionProxy({ threshold: 1024 }),
        new RedisBackend({ url: redisUrl() }),
      );
      py('set', `${prefix}from-python`, JSON.stringify({ big: 'x'.repeat(5000) }));
      expect(await r.get(`${prefix}from-python`)).toEqual({ big: 'x'.repeat(5000) });
      await r.set(`${prefix}small`, { n: 1 });
      expect(py('get', `${prefix}small`)).toEqual({ value: { n: 1 } });
      // A compressed value is not Python's format: Python cannot read it (a documented limit).
      await r.set(`${prefix}big`, { big: 'y'.repeat(5000) });
      expect(() => py('get', `${prefix}big`)).toThrow();
    });
  },
);
