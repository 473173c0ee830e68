import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  CachedValue,
  type CacheRegion,
  type Clock,
  jsonSerializer,
  makeRegion,
  NO_VALUE,
  ValidationError,
  v8Serializer,
} from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { MemoryBackend, type MemoryBackendOptions } from '../src/index.js';

const fixedClock = (ms: number): Clock => ({ now: () => ms });

function regionOver(options?: MemoryBackendOptions, clock?: Clock) {
  const backend = new MemoryBackend(options);
  const region: CacheRegion = makeRegion(clock ? { clock } : {}).configure(backend);
  return { backend, region };
}

describe('MemoryBackend', () => {
  it('stores, reads, deletes, one key or many', async () => {
    const backend = new MemoryBackend();
    const value = new CachedValue('v', { ct: 1, v: 2 });
    expect(await backend.get('k')).toBe(NO_VALUE);
    await backend.set('k', value);
    expect(await backend.get('k')).toBe(value);
    await backend.setMulti(
      new Map([
        ['a', value],
        ['b', value],
      ]),
    );
    expect(await backend.getMulti(['a', 'nope', 'b'])).toEqual([value, NO_VALUE, value]);
    expect(backend.size).toBe(3);
    await backend.deleteMulti(['a', 'b', 'nope']);
    await backend.delete('k');
    await backend.delete('k');
    expect(backend.size).toBe(0);
    expect(backend.getMutex('k')).toBeNull();
  });

  it('keeps objects by reference unless serialize is on', async () => {
    const { region } = regionOver();
    const original = { list: [1] };
    await region.set('k', original);
    expect(await region.get('k')).toBe(original);
  });

  describe('maxEntries', () => {
    it('evicts the least recently used entry', async () => {
      const { backend, region } = regionOver({ maxEntries: 3 });
      await region.set('a', 1);
      await region.set('b', 2);
      await region.set('c', 3);
      expect(await region.get('a')).toBe(1); // a is now more recently used than b
      await region.set('d', 4);
      expect(backend.size).toBe(3);
      expect(await region.getMulti(['a', 'b', 'c', 'd'])).toEqual([1, NO_VALUE, 3, 4]);
      // That read touched a, then c, then d: a is now the least recently used.
      await region.set('e', 5);
      expect(await region.get('a')).toBe(NO_VALUE);
      expect(await region.getMulti(['c', 'd', 'e'])).toEqual([3, 4, 5]);
    });

    it('bounds the store through getOrCreate too, and a getOrCreate of an evicted key regenerates', async () => {
      const { backend, region } = regionOver({ maxEntries: 100 });
      for (let i = 0; i < 1000; i++) await region.getOrCreate(`k${i}`, () => i);
      expect(backend.size).toBe(100);
      let created = 0;
      expect(
        await region.getOrCreate('k0', () => {
          created++;
          return 'again';
        }),
      ).toBe('again');
      expect(await region.getOrCreate('k999', () => 'not called')).toBe(999);
      expect(created).toBe(1);
    });

    it('rejects bad values with a ValidationError', () => {
      for (const maxEntries of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
        expect(
          () => new MemoryBackend({ maxEntries: maxEntries as number }),
          String(maxEntries),
        ).toThrow(ValidationError);
      }
      expect(() => new MemoryBackend({ maxEntries: 5, cacheDict: new Map() })).toThrow(
        ValidationError,
      );
    });
  });

  describe('serialize', () => {
    it('true stores v8 copies: neither the original nor a returned object can change the cache', async () => {
      const { region } = regionOver({ serialize: true });
      const original = { list: [1], when: new Date(0), tags: new Set(['a']), big: 10n };
      await region.set('k', original);
      original.list.push(2);
      const first = (await region.get('k')) as typeof original;
      expect(first).toEqual({ list: [1], when: new Date(0), tags: new Set(['a']), big: 10n });
      expect(first).not.toBe(original);
      first.list.push(3);
      first.tags.add('b');
      expect(await region.get('k')).toEqual({
        list: [1],
        when: new Date(0),
        tags: new Set(['a']),
        big: 10n,
      });

      const created = await region.getOrCreate('g', () => ({ n: 1 }));
      created.n = 99;
      expect(await region.get('g')).toEqual({ n: 1 });
    });

    it('stores exactly JSON(metadata)|payload bytes with jsonSerializer', async () => {
      const cacheDict = new Map<string, unknown>();
      const { region } = regionOver(
        { serialize: jsonSerializer, cacheDict },
        fixedClock(1_700_000_000_250),
      );
      await region.set('k', { a: [1, 'x'] });
      await region.setMulti({ m: null });
      const raw = cacheDict.get('k');
      expect(raw).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(raw as Uint8Array).toString('utf8')).toBe(
        '{"ct":1700000000.25,"v":2}|{"a":[1,"x"]}',
      );
      expect(Buffer.from(cacheDict.get('m') as Uint8Array).toString('utf8')).toBe(
        '{"ct":1700000000.25,"v":2}|null',
      );
      expect(await region.get('k')).toEqual({ a: [1, 'x'] });
      expect(await region.getMulti(['k', 'm', 'x'])).toEqual([{ a: [1, 'x'] }, null, NO_VALUE]);
    });

    it('reads its own bytes back through the plain get as well', async () => {
      const backend = new MemoryBackend({ serialize: v8Serializer });
      await backend.set('k', new CachedValue(new Map([[1, 'one']]), { ct: 5, v: 2 }));
      const value = (await backend.get('k')) as CachedValue;
      expect(value.payload).toEqual(new Map([[1, 'one']]));
      expect(value.metadata).toEqual({ ct: 5, v: 2 });
      expect((await backend.getMulti(['k', 'j']))[1]).toBe(NO_VALUE);
    });

    it('treats unreadable stored bytes as a miss', async () => {
      const cacheDict = new Map<string, unknown>();
      const { region } = regionOver({ serialize: true, cacheDict });
      cacheDict.set('k', Buffer.from('{"ct":1,"v":2}|not v8'));
      const reported: unknown[] = [];
      const listener = (event: unknown) => reported.push(event);
      subscribe('dogpile:error', listener);
      try {
        expect(await region.get('k')).toBe(NO_VALUE);
        expect(await region.getOrCreate('k', () => 'fresh')).toBe('fresh');
      } finally {
        unsubscribe('dogpile:error', listener);
      }
      expect(reported[0]).toMatchObject({ operation: 'deserialize', key: 'k' });
    });

    it('rejects a serialize option that is not true, false or a Serializer', () => {
      for (const serialize of ['yes', 1, {}, { serialize: () => new Uint8Array() }]) {
        expect(
          () => new MemoryBackend({ serialize: serialize as never }),
          JSON.stringify(serialize),
        ).toThrow(ValidationError);
      }
      expect(() => new MemoryBackend({ serialize: false })).not.toThrow();
    });
  });

  describe('cacheDict', () => {
    it('stores into the given Map, which two backends can share', async () => {
      const cacheDict = new Map<string, unknown>();
      const one = regionOver({ cacheDict });
      const two = regionOver({ cacheDict });
      await one.region.set('k', 'shared');
      expect(cacheDict.has('k')).toBe(true);
      expect(await two.region.get('k')).toBe('shared');
    });

    it('must be a Map', () => {
      expect(() => new MemoryBackend({ cacheDict: {} as Map<string, unknown> })).toThrow(
        ValidationError,
      );
    });
  });

  it('clear() and close() drop every entry', async () => {
    const { backend, region } = regionOver();
    await region.setMulti({ a: 1, b: 2 });
    backend.clear();
    expect(backend.size).toBe(0);
    expect(await region.get('a')).toBe(NO_VALUE);
    await region.set('c', 3);
    await region.close();
    expect(backend.size).toBe(0);
    await expect(region.get('c')).rejects.toMatchObject({ code: 'ERR_REGION_CLOSED' });
  });
});

describe('the memory backends by name', () => {
  it("'memory' and 'dogpile.cache.memory' build a MemoryBackend from arguments", async () => {
    const region = makeRegion().configure('memory', { arguments: { maxEntries: 1 } });
    expect(region.backend).toBeInstanceOf(MemoryBackend);
    await region.set('a', 1);
    await region.set('b', 2);
    expect(await region.getMulti(['a', 'b'])).toEqual([NO_VALUE, 2]);
    expect(makeRegion().configure('dogpile.cache.memory').backend).toBeInstanceOf(MemoryBackend);
  });

  it("'memory_pickle' stores copies", async () => {
    const region = makeRegion().configure('memory_pickle');
    const original = { n: 1 };
    await region.set('k', original);
    original.n = 2;
    expect(await region.get('k')).toEqual({ n: 1 });
  });

  it('bad arguments by name are ValidationErrors too', () => {
    expect(() => makeRegion().configure('memory', { arguments: { maxEntries: -3 } })).toThrow(
      ValidationError,
    );
  });
});

describe('options', () => {
  it('an unknown option is a ValidationError that lists the known ones', () => {
    expect(() => new MemoryBackend({ max: 10 } as never)).toThrow(
      /MemoryBackend has no option "max"\. Known options: maxEntries, serialize, cacheDict/,
    );
    expect(() => new MemoryBackend('big' as never)).toThrow(ValidationError);
  });
});
