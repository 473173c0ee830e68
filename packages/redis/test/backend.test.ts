import {
  CachedValue,
  CantDeserializeError,
  makeRegion,
  NO_VALUE,
  type NoValue,
  ValidationError,
  v8Serializer,
} from '@dogpile/core';
import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { keySlot } from '../src/index.js';
import {
  captureErrors,
  cluster,
  makeBackend,
  noServers,
  sleep,
  targets,
  uniquePrefix,
} from './helpers.js';

const meta = (ct = Date.now() / 1000) => ({ ct, v: 2 as const });
const payloadOf = (value: CachedValue | NoValue) =>
  value === NO_VALUE ? NO_VALUE : (value as CachedValue).payload;

describe.skipIf(noServers).each(targets)('RedisBackend storage ($name)', (target) => {
  const p = uniquePrefix(`backend-${target.name}`);

  it('stores, reads and deletes values', async () => {
    const backend = makeBackend(target);
    expect(await backend.get(`${p}a`)).toBe(NO_VALUE);
    const value = new CachedValue({ n: 1, s: 'é' }, meta(1700000000.5));
    await backend.set(`${p}a`, value);
    const read = (await backend.get(`${p}a`)) as CachedValue;
    expect(read.payload).toEqual({ n: 1, s: 'é' });
    expect(read.metadata).toEqual({ ct: 1700000000.5, v: 2 });
    await backend.delete(`${p}a`);
    expect(await backend.get(`${p}a`)).toBe(NO_VALUE);
    await backend.delete(`${p}a`); // deleting a missing key is fine
  });

  it('writes the JSON(metadata)|payload layout Python dogpile.cache reads, and reads what it writes', async () => {
    const backend = makeBackend(target);
    await backend.set(`${p}wire`, new CachedValue([1, 'two'], meta(1700000001.25)));
    const raw = await target.raw().getBuffer(`${p}wire`);
    expect(raw?.toString('utf8')).toBe('{"ct":1700000001.25,"v":2}|[1,"two"]');
    // What Python's json.dumps writes: spaces after ':' and ','.
    await target.raw().set(`${p}py`, '{"ct": 1700000002.5, "v": 2}|{"a": [1, 2]}');
    const read = (await backend.get(`${p}py`)) as CachedValue;
    expect(read.payload).toEqual({ a: [1, 2] });
    expect(read.metadata.ct).toBe(1700000002.5);
  });

  it('keeps binary payloads intact with a binary serializer', async () => {
    const backend = makeBackend(target, { serializer: v8Serializer });
    const payload = new Map<string, unknown>([
      ['bytes', new Uint8Array([0, 124, 255, 10, 13])],
      ['when', new Date(1700000000000)],
      ['big', 2n ** 70n],
    ]);
    await backend.set(`${p}bin`, new CachedValue(payload, meta()));
    expect(((await backend.get(`${p}bin`)) as CachedValue).payload).toEqual(payload);
    await backend.setMulti(new Map([[`${p}bin2`, new CachedValue(new Set([1, 2]), meta())]]));
    expect(payloadOf((await backend.getMulti([`${p}bin2`]))[0]!)).toEqual(new Set([1, 2]));
  });

  it('getMulti/setMulti/deleteMulti keep order, report missing keys, and accept empty input', async () => {
    const backend = makeBackend(target);
    // Plenty of keys so that, on the Cluster, they fall in many slots on every node.
    const keys = Array.from({ length: 60 }, (_, i) => `${p}m${i}`);
    await backend.setMulti(new Map(keys.map((key, i) => [key, new CachedValue(i, meta())])));
    const read = await backend.getMulti([`${p}missing`, ...keys, `${p}missing2`]);
    expect(read.map(payloadOf)).toEqual([NO_VALUE, ...keys.map((_, i) => i), NO_VALUE]);
    await backend.deleteMulti([...keys.slice(0, 30), `${p}never-set`]);
    const after = await backend.getMulti(keys);
    expect(after.slice(0, 30).every((value) => value === NO_VALUE)).toBe(true);
    expect(after.slice(30).map(payloadOf)).toEqual(keys.slice(30).map((_, i) => i + 30));
    expect(await backend.getMulti([])).toEqual([]);
    await backend.setMulti(new Map());
    await backend.deleteMulti([]);
  });

  it('sets a server-side expiry on every write when redisExpirationTime is given', async () => {
    const backend = makeBackend(target, { redisExpirationTime: 30 });
    await backend.set(`${p}ttl1`, new CachedValue(1, meta()));
    await backend.setMulti(
      new Map([
        [`${p}ttl2`, new CachedValue(2, meta())],
        [`${p}{tag}ttl3`, new CachedValue(3, meta())],
      ]),
    );
    for (const key of [`${p}ttl1`, `${p}ttl2`, `${p}{tag}ttl3`]) {
      const ttl = await target.raw().pttl(key);
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
    }
    const plain = makeBackend(target);
    await plain.set(`${p}ttl4`, new CachedValue(4, meta()));
    expect(await target.raw().pttl(`${p}ttl4`)).toBe(-1);
  });

  it('lets values expire on the server', async () => {
    const backend = makeBackend(target, { redisExpirationTime: '150ms' });
    await backend.set(`${p}short`, new CachedValue(1, meta()));
    expect(payloadOf(await backend.get(`${p}short`))).toBe(1);
    await sleep(400);
    expect(await backend.get(`${p}short`)).toBe(NO_VALUE);
  });

  it('supports {hash tags} in keys', async () => {
    const backend = makeBackend(target);
    const keys = [`${p}{user:7}:name`, `${p}{user:7}:mail`, `{${p}}x`, `${p}{}empty-tag`];
    await backend.setMulti(new Map(keys.map((key) => [key, new CachedValue(key, meta())])));
    expect((await backend.getMulti(keys)).map(payloadOf)).toEqual(keys);
    await backend.deleteMulti(keys);
    expect((await backend.getMulti(keys)).every((value) => value === NO_VALUE)).toBe(true);
  });
});

describe.skipIf(noServers)('RedisBackend on a Cluster', () => {
  const p = uniquePrefix('slots');

  it('computes the same key slots as the server, hash tags and UTF-8 included', async () => {
    const raw = cluster.raw() as Cluster;
    const keys = [
      'foo',
      '{user1000}.following',
      '{user1000}.followers',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{}',
      '{',
      '}{',
      'ключ',
      '日本語{タグ}',
      '😀',
      '',
      ...Array.from({ length: 40 }, (_, i) => `${p}${i * 7919}`),
    ];
    for (const key of keys) {
      expect(keySlot(key), key).toBe(await raw.cluster('KEYSLOT', key));
    }
  });

  it('splits multi-key calls over slots on different nodes (a single MGET would fail with CROSSSLOT)', async () => {
    const raw = cluster.raw() as Cluster;
    const backend = makeBackend(cluster);
    // Find keys owned by different masters, to be sure the test crosses nodes.
    const nodeOf = new Map<string, string>();
    const slots = await raw.cluster('SLOTS');
    for (let i = 0; nodeOf.size < 3 && i < 1000; i++) {
      const key = `${p}x${i}`;
      const slot = keySlot(key);
      const owner = slots.find(([from, to]) => slot >= from && slot <= to)!;
      const node = `${owner[2]![0]}:${owner[2]![1]}`;
      if (![...nodeOf.values()].includes(node)) nodeOf.set(key, node);
    }
    const keys = [...nodeOf.keys()];
    expect(keys).toHaveLength(3);
    await expect(raw.mget(...keys)).rejects.toThrow(/CROSSSLOT/);

    await backend.setMulti(new Map(keys.map((key) => [key, new CachedValue(key, meta())])));
    expect((await backend.getMulti(keys)).map(payloadOf)).toEqual(keys);
    await backend.deleteMulti(keys);
    for (const key of keys) expect(await raw.exists(key)).toBe(0);
  });

  it('groups keys with a shared hash tag into one slot', async () => {
    const backend = makeBackend(cluster);
    const keys = Array.from({ length: 10 }, (_, i) => `{${p}group}:${i}`);
    expect(new Set(keys.map(keySlot)).size).toBe(1);
    // A single MGET works for them on the raw client, as it does through the backend.
    await backend.setMulti(new Map(keys.map((key) => [key, new CachedValue(key, meta())])));
    expect((await cluster.raw().mget(...keys)).every((value) => value !== null)).toBe(true);
    expect((await backend.getMulti(keys)).map(payloadOf)).toEqual(keys);
  });
});

describe.skipIf(noServers)('RedisBackend bad keys', () => {
  it('getSerialized rejects (never throws) for a key that is not a well-formed string', async () => {
    const backend = makeBackend(targets[0]!);
    for (const key of [42, '\ud800']) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = backend.getSerialized(key as string);
      }).not.toThrow();
      await expect(promise).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe.skipIf(noServers).each(targets)('RedisBackend keys of another type ($name)', (target) => {
  const p = uniquePrefix(`wrongtype-${target.name}`);

  it('a list under a key is a miss, reported, then regenerated and replaced with a value', async () => {
    const backend = makeBackend(target);
    const key = `${p}list`;
    await target.raw().rpush(key, 'a', 'b');
    // The backend itself says it cannot read it, with a typed error.
    await expect(backend.getSerialized(key)).rejects.toBeInstanceOf(CantDeserializeError);
    const region = makeRegion({ name: 'wrongtype' }).configure(backend, { expirationTime: 60 });
    const errors = captureErrors();
    try {
      expect(await region.get(key)).toBe(NO_VALUE);
      expect(await region.getMulti([key])).toEqual([NO_VALUE]);
      expect(await region.getOrCreate(key, () => 'fresh')).toBe('fresh');
      expect(await region.get(key)).toBe('fresh');
      expect(await target.raw().type(key)).toBe('string');
    } finally {
      errors.stop();
    }
    expect(errors.events.length).toBeGreaterThan(0);
    for (const event of errors.events) expect(event.operation).toBe('deserialize');
  });
});
