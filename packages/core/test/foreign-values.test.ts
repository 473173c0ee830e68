import { describe, expect, it } from 'vitest';
import { CantDeserializeError, makeRegion, NO_VALUE } from '../src/index.js';
import { BytesMapBackend } from './helpers.js';
import { collectErrors } from './resilience-fixtures.js';

// Whatever a store hands back, however corrupt, is never a wrong value or an untyped error: it is
// unreadable, reported, a miss, and getOrCreate regenerates and replaces it.
const FOREIGN: ReadonlyArray<readonly [string, unknown]> = [
  ['an integer (a SQLite INTEGER column)', 42],
  ['a float (a SQLite REAL column)', 1.5],
  ['a string (a SQLite TEXT column)', '{"ct":1,"v":2}|"x"'],
  ['null', null],
  ['a plain object', { ct: 1 }],
  ['an array of numbers', [123, 124, 125]],
];

/** A bytes backend whose store holds whatever the test puts there. */
class AnythingBackend extends BytesMapBackend {
  readonly raw = new Map<string, unknown>();
  override async getSerialized(key: string) {
    return (this.raw.has(key) ? this.raw.get(key) : await super.getSerialized(key)) as Uint8Array;
  }
  override async getSerializedMulti(keys: readonly string[]) {
    return Promise.all(keys.map((key) => this.getSerialized(key)));
  }
  override async setSerialized(key: string, value: Uint8Array) {
    this.raw.delete(key);
    return super.setSerialized(key, value);
  }
}

/** A bytes backend that says it cannot read what it holds (as Redis for a key of another type). */
class WrongTypeBackend extends BytesMapBackend {
  wrongType = true;
  override async getSerialized(key: string) {
    if (this.wrongType) throw new CantDeserializeError('WRONGTYPE: a list lives there');
    return super.getSerialized(key);
  }
  override async setSerialized(key: string, value: Uint8Array) {
    this.wrongType = false;
    return super.setSerialized(key, value);
  }
}

describe('values a store hands back that are not bytes it wrote', () => {
  it.each(FOREIGN)('%s: a miss, reported, regenerated and replaced', async (_, stored) => {
    const backend = new AnythingBackend();
    backend.raw.set('k', stored);
    const region = makeRegion({ name: 'r' }).configure(backend, { expirationTime: 60 });
    const { result, events } = await collectErrors(async () => ({
      get: await region.get('k'),
      multi: await region.getMulti(['k']),
      created: await region.getOrCreate('k', () => 'fresh'),
      after: await region.get('k'),
    }));
    expect(result).toEqual({ get: NO_VALUE, multi: [NO_VALUE], created: 'fresh', after: 'fresh' });
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(event).toMatchObject({ operation: 'deserialize', key: 'k' });
      expect(event.error).toBeInstanceOf(CantDeserializeError);
    }
    expect(backend.raw.has('k')).toBe(false);
  });

  it('a CantDeserializeError thrown by the backend read is a miss too, and is replaced', async () => {
    const backend = new WrongTypeBackend();
    const region = makeRegion().configure(backend, { expirationTime: 60 });
    const { result, events } = await collectErrors(async () => [
      await region.get('k'),
      await region.getOrCreate('k', () => 'fresh'),
      await region.get('k'),
    ]);
    expect(result).toEqual([NO_VALUE, 'fresh', 'fresh']);
    // The plain read, and getOrCreate's reads (before and under the lock); none after the write.
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(new Set(events.map((e) => e.operation))).toEqual(new Set(['deserialize']));
  });
});
