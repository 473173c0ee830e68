/**
 * Behaviours of dogpile.cache that its own test suite checks and that a port must keep, each
 * observed against dogpile.cache 1.x.
 */
import { describe, expect, it } from 'vitest';
import {
  EXPIRY_RESOLUTION_MS,
  jsonSerializer,
  lengthConditionalMangler,
  makeRegion,
  NO_VALUE,
  registerBackend,
  ValidationError,
  validateKey,
} from '../src/index.js';
import { BytesMapBackend, ManualClock, MapBackend } from './helpers.js';

describe('keyMangler', () => {
  it("a backend declaring keyMangler as a method (dogpile's way) is honoured", async () => {
    // A method on the prototype, as a JavaScript class body `keyMangler(key) {...}` makes it
    // (TypeScript forbids a method over a declared property, so it is defined by hand).
    class Mangling extends MapBackend {}
    Object.defineProperty(Mangling.prototype, 'keyMangler', {
      value(key: string): string {
        return `m:${key}`;
      },
    });
    const backend = new Mangling();
    const region = makeRegion().configure(backend);
    await region.set('k', 1);
    expect([...backend.store.keys()]).toEqual(['m:k']);
    expect(region.keyMangler?.('x')).toBe('m:x');
  });

  it("region.keyMangler defaults from the backend's, and follows replaceExistingBackend", () => {
    const first = new MapBackend();
    first.keyMangler = (key) => `one:${key}`;
    const second = new MapBackend();
    second.keyMangler = (key) => `two:${key}`;
    const region = makeRegion().configure(first);
    expect(region.keyMangler?.('k')).toBe('one:k');
    region.configure(second, { replaceExistingBackend: true });
    expect(region.keyMangler?.('k')).toBe('two:k');
    const own = makeRegion({ keyMangler: (key) => `own:${key}` }).configure(new MapBackend());
    expect(own.keyMangler?.('k')).toBe('own:k');
  });

  it('lengthConditionalMangler mangles at length >= limit, as dogpile does', () => {
    const mangle = lengthConditionalMangler(5, (key) => `<${key}>`);
    expect(mangle('abcd')).toBe('abcd');
    expect(mangle('abcde')).toBe('<abcde>');
    expect(mangle('abcdef')).toBe('<abcdef>');
  });
});

describe('cached functions', () => {
  it('keep their name and length', () => {
    const region = makeRegion().configure(new MapBackend());
    const fn = region.cacheOnArguments()(async function lookup(a: number, b: string) {
      return `${a}${b}`;
    });
    expect(fn.name).toBe('lookup');
    expect(fn.length).toBe(2);
    const multi = region.cacheMultiOnArguments()(async function many(...ids: number[]) {
      return ids;
    });
    expect(multi.name).toBe('many');
  });

  it('cacheMultiOnArguments(...).set({ 7: 18 }) stores where get(7) reads', async () => {
    const region = makeRegion().configure(new MapBackend());
    let calls = 0;
    const fn = region.cacheMultiOnArguments({ namespace: 'double' })(async (...ids: number[]) => {
      calls++;
      return ids.map((id) => id * 2);
    });
    await fn.set({ 7: 18 });
    expect(await fn.get(7)).toEqual([18]);
    expect(await fn(7)).toEqual([18]);
    expect(calls).toBe(0);
    // A Map keeps the argument's own type.
    await fn.set(new Map([[8, 99]]));
    expect(await fn(8)).toEqual([99]);
  });
});

describe('values', () => {
  it("CachedValue.age reads the region's clock", async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend());
    await region.set('k', 'v');
    clock.advance(42_000);
    const value = await region.getValueMetadata('k');
    expect(value?.age).toBeCloseTo(42, 3);
  });

  it("String(NO_VALUE) is dogpile's readable marker, and NO_VALUE is not null or undefined", () => {
    expect(String(NO_VALUE)).toBe('NoValue.NO_VALUE');
    expect(`${NO_VALUE}`).toBe('NoValue.NO_VALUE');
    expect(NO_VALUE).not.toBeNull();
    expect(NO_VALUE).not.toBeUndefined();
  });
});

describe('serializers', () => {
  it('a serializer that is not { serialize, deserialize } is a ValidationError at construction', () => {
    for (const bad of [5, 'json', {}, { serialize: () => new Uint8Array() }, null]) {
      expect(() => makeRegion({ serializer: bad as never })).toThrow(ValidationError);
    }
  });

  it("accepts dogpile's separate serializer and deserializer functions", async () => {
    const backend = new BytesMapBackend();
    const region = makeRegion({
      serializer: (value) => jsonSerializer.serialize({ wrapped: value }),
      deserializer: (bytes) => (jsonSerializer.deserialize(bytes) as { wrapped: unknown }).wrapped,
    }).configure(backend);
    await region.set('k', [1, 2]);
    expect(await region.get('k')).toEqual([1, 2]);
    expect(Buffer.from([...backend.store.values()][0]!).toString()).toContain('"wrapped"');
  });

  it('one without the other is a ValidationError', () => {
    expect(() => makeRegion({ serializer: (v) => jsonSerializer.serialize(v) })).toThrow(
      /deserializer/,
    );
    expect(() => makeRegion({ deserializer: (b) => b })).toThrow(ValidationError);
  });
});

describe('configure by name', () => {
  it("accepts snake_case arguments, as configureFromConfig and dogpile's configure do", () => {
    let received: Record<string, unknown> | undefined;
    registerBackend('fidelity-args', (args) => {
      received = args;
      return new MapBackend();
    });
    makeRegion().configure('fidelity-args', { arguments: { max_entries: 3, lockTimeout: 2 } });
    expect(received).toEqual({ maxEntries: 3, lockTimeout: 2 });
  });
});

describe('0 as an expiration time', () => {
  it('means no expiry, on the region and per call, as on every store-side TTL', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 0 });
    expect(region.expirationTime).toBeNull();
    let runs = 0;
    const creator = () => ++runs;
    await region.getOrCreate('k', creator);
    clock.advance(365 * 86_400_000);
    expect(await region.getOrCreate('k', creator)).toBe(1);
    expect(await region.getOrCreate('k', creator, { expirationTime: 0 })).toBe(1);
    expect(await region.get('k', { expirationTime: '0s' })).toBe(1);
    expect(runs).toBe(1);
  });
});

describe('validateKey', () => {
  it('refuses exactly the strings String.prototype.isWellFormed refuses, short and long', () => {
    const units = [0x41, 0xe9, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 5000; n++) {
      const length = (next() % 3 === 0 ? 60 : 1) + (next() % 12);
      const key = String.fromCharCode(
        ...Array.from({ length }, () => units[next() % units.length]!),
      );
      const refused = (() => {
        try {
          validateKey(key);
          return false;
        } catch {
          return true;
        }
      })();
      expect(refused, JSON.stringify(key)).toBe(!key.isWellFormed());
    }
  });
});

describe('expiry on the system clock', () => {
  it('a value is served at most EXPIRY_RESOLUTION_MS past its expiry, and invalidate() is exact', async () => {
    expect(EXPIRY_RESOLUTION_MS).toBe(1);
    const region = makeRegion().configure(new MapBackend(), { expirationTime: '30ms' });
    await region.set('k', 'v');
    expect(await region.get('k')).toBe('v');
    await new Promise((resolve) => setTimeout(resolve, 30 + EXPIRY_RESOLUTION_MS + 5));
    expect(await region.get('k')).toBe(NO_VALUE);
    // Creation times read the clock itself: a value set right before invalidate() is retired,
    // one set right after it is not, however close together.
    for (let i = 0; i < 50; i++) {
      await region.set('before', i);
      await region.invalidate();
      await region.set('after', i);
      expect(await region.get('before')).toBe(NO_VALUE);
      expect(await region.get('after')).toBe(i);
    }
  });
});
