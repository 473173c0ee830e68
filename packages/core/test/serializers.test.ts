import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CachedValue,
  CantDeserializeError,
  coerceStringConfig,
  deserializeCachedValue,
  type ErrorEvent,
  jsonSerializer,
  makeRegion,
  NO_VALUE,
  reportError,
  SerializationError,
  type Serializer,
  serializeCachedValue,
  toSeconds,
  ValidationError,
  v8Serializer,
} from '../src/index.js';
import { BytesMapBackend, ManualClock, MapBackend } from './helpers.js';

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('jsonSerializer', () => {
  it('round-trips JSON data', () => {
    for (const value of [
      { a: 1, nested: { list: [1, 'two', null, true] } },
      [],
      'héllo ✓ 𝄞',
      0,
      -1.5,
      null,
      false,
    ]) {
      expect(jsonSerializer.deserialize(jsonSerializer.serialize(value))).toEqual(value);
    }
    expect(decode(jsonSerializer.serialize({ a: [1, 'x'] }))).toBe('{"a":[1,"x"]}');
  });

  it('rejects what JSON would silently change or drop, with SerializationError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, 10n, { big: 1n }, () => 1, Symbol('s'), cyclic]) {
      expect(() => jsonSerializer.serialize(bad), String(typeof bad)).toThrow(SerializationError);
    }
  });

  it('reports unreadable bytes as CantDeserializeError', () => {
    expect(() => jsonSerializer.deserialize(encode('{not json'))).toThrow(CantDeserializeError);
    expect(() => jsonSerializer.deserialize(new Uint8Array([0xff, 0xfe]))).toThrow(
      CantDeserializeError,
    );
  });
});

describe('v8Serializer', () => {
  it('round-trips Map, Set, Date, BigInt, typed arrays, undefined and cycles', () => {
    const value = {
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: [3] }],
      ]),
      set: new Set(['x', 'y']),
      date: new Date('2024-05-06T07:08:09.010Z'),
      big: 12345678901234567890n,
      bytes: new Uint8Array([1, 2, 255]),
      floats: new Float64Array([1.5, -0]),
      missing: undefined,
    };
    const back = v8Serializer.deserialize(v8Serializer.serialize(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.map).toBeInstanceOf(Map);
    expect(back.set).toBeInstanceOf(Set);
    expect(back.date).toBeInstanceOf(Date);
    expect(back.date.getTime()).toBe(value.date.getTime());
    expect(typeof back.big).toBe('bigint');
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    expect(back.floats).toBeInstanceOf(Float64Array);
    expect('missing' in back).toBe(true);

    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    const cyc = v8Serializer.deserialize(v8Serializer.serialize(cyclic)) as Record<string, unknown>;
    expect(cyc.self).toBe(cyc);
  });

  it('rejects functions and symbols with SerializationError, and garbage with CantDeserializeError', () => {
    expect(() => v8Serializer.serialize(() => 1)).toThrow(SerializationError);
    expect(() => v8Serializer.serialize({ s: Symbol('s') })).toThrow(SerializationError);
    expect(() => v8Serializer.deserialize(new Uint8Array([1, 2, 3]))).toThrow(CantDeserializeError);
  });
});

describe('the wire format: JSON(metadata) | payload bytes', () => {
  it('is exactly the metadata JSON, a pipe, and the serializer bytes', () => {
    const bytes = serializeCachedValue(
      new CachedValue({ a: 1 }, { ct: 1700000000.25, v: 2 }),
      jsonSerializer,
    );
    expect(decode(bytes)).toBe('{"ct":1700000000.25,"v":2}|{"a":1}');
    const v8bytes = serializeCachedValue(
      new CachedValue(new Map([[1, 2]]), { ct: 1, v: 2 }),
      v8Serializer,
    );
    const meta = encode('{"ct":1,"v":2}|');
    expect(Buffer.from(v8bytes.subarray(0, meta.length))).toEqual(Buffer.from(meta));
    expect(Buffer.from(v8bytes.subarray(meta.length))).toEqual(
      Buffer.from(v8Serializer.serialize(new Map([[1, 2]]))),
    );
  });

  it('splits on the first pipe, so payloads may contain pipes; extra metadata survives', () => {
    const bytes = serializeCachedValue(
      new CachedValue('a|b|c', { ct: 5, v: 2, extra: 'x' }),
      jsonSerializer,
    );
    const value = deserializeCachedValue(bytes, jsonSerializer) as CachedValue;
    expect(value.payload).toBe('a|b|c');
    expect(value.metadata).toEqual({ ct: 5, v: 2, extra: 'x' });
    // What Python dogpile.cache writes: json.dumps puts spaces after separators.
    const python = deserializeCachedValue(
      encode('{"ct": 1700000000.5, "v": 2}|[1, 2]'),
      jsonSerializer,
    );
    expect((python as CachedValue).payload).toEqual([1, 2]);
  });

  it('a value of another format version is NO_VALUE', () => {
    expect(deserializeCachedValue(encode('{"ct":5,"v":1}|1'), jsonSerializer)).toBe(NO_VALUE);
    expect(deserializeCachedValue(encode('{"ct":5}|1'), jsonSerializer)).toBe(NO_VALUE);
  });

  it('bytes not in the layout are CantDeserializeError', () => {
    for (const text of [
      'no pipe at all',
      'not json|1',
      '{"v":2}|1',
      '{"ct":"yesterday","v":2}|1',
      'null|1',
    ]) {
      expect(() => deserializeCachedValue(encode(text), jsonSerializer), text).toThrow(
        CantDeserializeError,
      );
    }
  });
});

describe('a region storing bytes', () => {
  function setup(serializer?: Serializer) {
    const clock = new ManualClock(1_700_000_000_500);
    const backend = new BytesMapBackend();
    const region = makeRegion({ clock, ...(serializer ? { serializer } : {}) }).configure(backend, {
      expirationTime: 60,
    });
    return { clock, backend, region };
  }

  let events: ErrorEvent[] = [];
  const listener = (message: unknown) => events.push(message as ErrorEvent);
  beforeEach(() => {
    events = [];
    subscribe('dogpile:error', listener);
  });
  afterEach(() => {
    unsubscribe('dogpile:error', listener);
  });

  it('stores JSON(metadata)|JSON(payload) with the default JSON serializer', async () => {
    const { region, backend } = setup();
    await region.set('k', { a: [1, 'x'] });
    expect(decode(backend.store.get('k')!)).toBe('{"ct":1700000000.5,"v":2}|{"a":[1,"x"]}');
    await region.setMulti({ m: 'n' });
    expect(decode(backend.store.get('m')!)).toBe('{"ct":1700000000.5,"v":2}|"n"');
    expect(await region.get('k')).toEqual({ a: [1, 'x'] });
    expect(await region.getOrCreate('g', () => 7)).toBe(7);
    expect(decode(backend.store.get('g')!)).toBe('{"ct":1700000000.5,"v":2}|7');
  });

  it("uses the region's serializer over the backend's", async () => {
    const { region, backend } = setup(v8Serializer);
    const map = new Map([['x', new Set([1n])]]);
    await region.set('k', map);
    const raw = backend.store.get('k')!;
    const cut = raw.indexOf(0x7c);
    expect(decode(raw.subarray(0, cut))).toBe('{"ct":1700000000.5,"v":2}');
    expect(v8Serializer.deserialize(raw.subarray(cut + 1))).toEqual(map);
    expect(await region.get('k')).toEqual(map);
  });

  it('a value the deserializer cannot read is a miss, reported on dogpile:error, and regenerated', async () => {
    const { region, backend } = setup();
    backend.store.set('k', encode('{"ct":1700000000.5,"v":2}|{broken'));
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operation: 'deserialize', key: 'k' });
    expect(events[0]!.error).toBeInstanceOf(CantDeserializeError);
    expect(await region.getOrCreate('k', () => 'regenerated')).toBe('regenerated');
    expect(await region.get('k')).toBe('regenerated');
    expect(await region.getMulti(['k'])).toEqual(['regenerated']);
  });

  it('a CantDeserializeError thrown by a custom deserializer means regenerate', async () => {
    let version = 1;
    const versioned: Serializer = {
      serialize: (value) => encode(JSON.stringify({ version, value })),
      deserialize: (bytes) => {
        const data = JSON.parse(decode(bytes)) as { version: number; value: unknown };
        if (data.version !== version) throw new CantDeserializeError('written by an older release');
        return data.value;
      },
    };
    const { region } = setup(versioned);
    await region.set('k', 'old shape');
    version = 2;
    let created = 0;
    expect(
      await region.getOrCreate('k', () => {
        created++;
        return 'new shape';
      }),
    ).toBe('new shape');
    expect(created).toBe(1);
    expect(await region.getOrCreateMulti(['k'], () => ['unused'])).toEqual(['new shape']);
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events.map((e) => e.operation))).toEqual(new Set(['deserialize']));
  });

  it('other deserializer errors are not swallowed', async () => {
    const failing: Serializer = {
      serialize: jsonSerializer.serialize,
      deserialize: () => {
        throw new TypeError('bug in my deserializer');
      },
    };
    const { region } = setup(failing);
    await region.set('k', 1);
    await expect(region.get('k')).rejects.toThrow('bug in my deserializer');
  });

  it('corrupt bytes without a pipe are a miss', async () => {
    const { region, backend } = setup();
    backend.store.set('k', encode('garbage'));
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getMulti(['k'])).toEqual([NO_VALUE]);
    expect(await region.getOrCreate('k', () => 'fresh')).toBe('fresh');
  });

  it('a stored value with v other than 2 is a miss and is regenerated', async () => {
    const { region, backend } = setup();
    backend.store.set('k', encode('{"ct":1700000000.5,"v":1}|"from an old format"'));
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getOrCreate('k', () => 'current')).toBe('current');
    expect(events).toHaveLength(0); // a version change is an ordinary miss
  });

  it('a payload the serializer refuses is a SerializationError and nothing is written', async () => {
    const { region, backend } = setup();
    await expect(region.set('k', undefined)).rejects.toBeInstanceOf(SerializationError);
    await expect(region.getOrCreate('b', () => 10n)).rejects.toBeInstanceOf(SerializationError);
    expect(backend.store.size).toBe(0);
    expect(region.lockedKeyCount).toBe(0);
  });
});

describe('a region storing objects', () => {
  it('treats a CachedValue of another version as a miss', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend);
    backend.store.set('k', new CachedValue('old', { ct: Date.now() / 1000, v: 1 }));
    expect(await region.get('k')).toBe(NO_VALUE);
    expect(await region.getOrCreate('k', () => 'new')).toBe('new');
    expect(await region.getOrCreateMulti(['k', 'j'], (...keys) => keys)).toEqual(['new', 'j']);
    backend.store.set('j', new CachedValue('old', { ct: Date.now() / 1000, v: 3 }));
    expect(await region.getOrCreateMulti(['j'], () => ['newer'])).toEqual(['newer']);
  });
});

describe('reportError without a listener', () => {
  it('becomes a process warning rather than being lost', async () => {
    const warning = new Promise<Error>((resolve) => process.once('warning', resolve));
    reportError({
      operation: 'test',
      key: 'k',
      error: new Error('absorbed on purpose by this test'),
    });
    const w = await warning;
    expect(w.name).toBe('DogpileWarning');
    expect(w.message).toContain('absorbed');
    expect(w.message).toContain('"k"');
  });
});

describe('toSeconds', () => {
  it('reads numbers as seconds and strings with units', () => {
    expect(toSeconds(5, 'x')).toBe(5);
    expect(toSeconds(0.25, 'x')).toBe(0.25);
    expect(toSeconds(0, 'x')).toBe(0);
    expect(toSeconds('250ms', 'x')).toBe(0.25);
    expect(toSeconds('30s', 'x')).toBe(30);
    expect(toSeconds('30', 'x')).toBe(30);
    expect(toSeconds(' 1.5 s ', 'x')).toBe(1.5);
    expect(toSeconds('.5s', 'x')).toBe(0.5);
    expect(toSeconds('5m', 'x')).toBe(300);
    expect(toSeconds('2h', 'x')).toBe(7200);
    expect(toSeconds('1d', 'x')).toBe(86400);
    expect(toSeconds(-1, 'x')).toBe(-1);
    expect(toSeconds('-1', 'x')).toBe(-1);
  });

  it('rejects anything else with a ValidationError naming the option', () => {
    for (const bad of [
      -2,
      -0.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '',
      'soon',
      '5 minutes',
      '5w',
      '-5m',
      '1e3s',
      null,
      {},
      true,
    ]) {
      expect(() => toSeconds(bad as never, 'lockTimeout'), String(bad)).toThrow(ValidationError);
    }
    expect(() => toSeconds('soon', 'lockTimeout')).toThrow(/lockTimeout/);
  });
});

describe('coerceStringConfig (dogpile coerce_string_conf)', () => {
  it('turns numbers, booleans and None into values, trims other strings, leaves non-strings', () => {
    const input = {
      int: '300',
      neg: '-5',
      float: '2.5',
      exp: '1e3',
      dot: '.5',
      t: 'true',
      T: 'True',
      f: 'FALSE',
      none: 'None',
      nul: 'null',
      text: '  redis://localhost  ',
      hex: '0x10',
      empty: '',
      num: 7,
      obj: { a: '1' },
    };
    expect(coerceStringConfig(input)).toEqual({
      int: 300,
      neg: -5,
      float: 2.5,
      exp: 1000,
      dot: 0.5,
      t: true,
      T: true,
      f: false,
      none: null,
      nul: null,
      text: 'redis://localhost',
      hex: '0x10',
      empty: '',
      num: 7,
      obj: { a: '1' },
    });
    expect(input.int).toBe('300'); // the input is not modified
  });
});
