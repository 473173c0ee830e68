import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CachedValue,
  type CreationContext,
  jsonSerializer,
  makeRegion,
  NO_VALUE,
  ValidationError,
} from '../src/index.js';
import { BytesMapBackend, deferred, ManualClock, MapBackend, settle } from './helpers.js';

const errors: unknown[] = [];
const onError = (event: unknown) => errors.push(event);
subscribe('dogpile:error', onError);
afterEach(() => {
  errors.length = 0;
});
process.on('exit', () => unsubscribe('dogpile:error', onError));

function counting(label: string) {
  let runs = 0;
  const creator = () => `${label}${++runs}`;
  return { creator, runs: () => runs };
}

describe('tags', () => {
  it('a hard invalidateTags makes the values carrying a tag misses, and no others', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 600 });
    const a = counting('a');
    const b = counting('b');
    const c = counting('c');
    await region.getOrCreate('post:1', a.creator, { tags: ['user:7'] });
    await region.getOrCreate('post:2', b.creator, { tags: ['user:8', 'user:7'] });
    await region.getOrCreate('post:3', c.creator, { tags: ['user:8'] });
    clock.advance(1);
    await region.invalidateTags(['user:7']);
    expect(await region.get('post:1')).toBe(NO_VALUE);
    expect(await region.getOrCreate('post:1', a.creator, { tags: ['user:7'] })).toBe('a2');
    expect(await region.getOrCreate('post:2', b.creator, { tags: ['user:7'] })).toBe('b2');
    expect(await region.getOrCreate('post:3', c.creator)).toBe('c1');
    // Created after the invalidation: fresh.
    expect(await region.getOrCreate('post:1', a.creator)).toBe('a2');
    expect([a.runs(), b.runs(), c.runs()]).toEqual([2, 2, 1]);
  });

  it('a soft invalidateTags makes them stale: one caller regenerates, the others get the old value at once', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new MapBackend(), { expirationTime: 600 });
    await region.getOrCreate('k', () => 'old', { tags: ['t'] });
    clock.advance(1);
    await region.invalidateTags(['t'], { hard: false });
    expect(await region.get('k')).toBe(NO_VALUE);
    const gate = deferred<string>();
    let runs = 0;
    const slow = () => {
      runs++;
      return gate.promise;
    };
    const first = region.getOrCreate('k', slow, { tags: ['t'] });
    const others = await Promise.all([1, 2, 3].map(() => region.getOrCreate('k', slow)));
    expect(others).toEqual(['old', 'old', 'old']);
    gate.resolve('new');
    expect(await first).toBe('new'); // the caller that regenerates waits for its own value
    await settle();
    expect(await region.getOrCreate('k', slow)).toBe('new');
    expect(runs).toBe(1);
  });

  it('a soft invalidation of a tag needs an expiration time on the call, as a soft region invalidation does', async () => {
    const region = makeRegion().configure(new MapBackend());
    await region.getOrCreate('k', () => 'old', { tags: ['t'] });
    await new Promise((resolve) => setTimeout(resolve, 2));
    await region.invalidateTags(['t'], { hard: false });
    await expect(region.getOrCreate('k', () => 'new')).rejects.toThrow(/expiration time/);
    expect(await region.getOrCreate('k', () => 'new', { expirationTime: 60 })).toBe('new');
  });

  it('setTags from the creator tags the value too, beside the call option', async () => {
    const clock = new ManualClock();
    const backend = new MapBackend();
    const region = makeRegion({ clock }).configure(backend, { expirationTime: 600 });
    const creator = (ctx: CreationContext) => {
      ctx.setTags(['author:3', 'post']);
      return 'v';
    };
    await region.getOrCreate('k', creator, { tags: ['post'] });
    const stored = backend.store.get('k') as CachedValue;
    expect(stored.metadata.tg).toEqual(['post', 'author:3']);
    clock.advance(1);
    await region.invalidateTags(['author:3']);
    expect(await region.get('k')).toBe(NO_VALUE);
  });

  it('get, getValueMetadata, getMulti and getOrCreateMulti honour tags; ignoreExpiration returns the value anyway', async () => {
    const clock = new ManualClock();
    const region = makeRegion({ clock }).configure(new BytesMapBackend(), {
      expirationTime: 600,
    });
    await region.getOrCreate('a', () => 'A', { tags: ['t'] });
    await region.getOrCreate('b', () => 'B');
    clock.advance(1);
    await region.invalidateTags(['t']);
    expect(await region.get('a')).toBe(NO_VALUE);
    expect(await region.getValueMetadata('a')).toBeNull();
    expect(await region.get('a', { ignoreExpiration: true })).toBe('A');
    expect(await region.getMulti(['a', 'b'])).toEqual([NO_VALUE, 'B']);
    expect(await region.getMulti(['a', 'b'], { ignoreExpiration: true })).toEqual(['A', 'B']);
    const made: string[][] = [];
    const values = await region.getOrCreateMulti(['a', 'b'], (...keys: string[]) => {
      made.push(keys);
      return keys.map((key) => `${key}2`);
    });
    expect(values).toEqual(['a2', 'B']);
    expect(made).toEqual([['a']]);
  });

  it('another region on the same backend sees an invalidation within tagCacheTime, reading each tag once per tagCacheTime', async () => {
    const clock = new ManualClock();
    const backend = new MapBackend();
    const a = makeRegion({ clock, tagCacheTime: 2 }).configure(backend, { expirationTime: 600 });
    const b = makeRegion({ clock, tagCacheTime: 2 }).configure(backend, { expirationTime: 600 });
    await b.getOrCreate('k', () => 'v1', { tags: ['t'] });
    const reads = backend.calls.getMulti;
    expect(await b.getOrCreate('k', () => 'v2')).toBe('v1'); // reads the tag's times
    expect(backend.calls.getMulti).toBe(reads + 1);
    for (let i = 0; i < 10; i++) await b.getOrCreate('k', () => 'v2');
    expect(backend.calls.getMulti).toBe(reads + 1); // from the copy
    clock.advance(500);
    await a.invalidateTags(['t']);
    expect(await a.get('k')).toBe(NO_VALUE); // at once in the region that invalidated
    const beforeB = backend.calls.getMulti;
    expect(await b.getOrCreate('k', () => 'v2')).toBe('v1'); // b's copy still holds
    expect(backend.calls.getMulti).toBe(beforeB);
    clock.advance(1_600);
    expect(await b.getOrCreate('k', () => 'v2')).toBe('v2');
    expect(backend.calls.getMulti).toBe(beforeB + 1);
  });

  it('concurrent hits share one read of the tag times', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    const writer = makeRegion().configure(backend, { expirationTime: 600 });
    await writer.getOrCreate('k', () => 'v', { tags: ['t', 'u'] });
    const reads = backend.calls.getMulti;
    const values = await Promise.all(
      Array.from({ length: 50 }, () => region.getOrCreate('k', () => 'other')),
    );
    expect(new Set(values)).toEqual(new Set(['v']));
    expect(backend.calls.getMulti).toBe(reads + 1);
  });

  it('an invalidation by this process is never lost to a read of the times that began before it', async () => {
    const backend = new MapBackend();
    const clock = new ManualClock();
    const region = makeRegion({ clock, tagCacheTime: 60 }).configure(backend, {
      expirationTime: 600,
    });
    await region.getOrCreate('k', () => 'v1', { tags: ['t'] });
    clock.advance(1);
    // A hit starts reading the times; the invalidation is written before that read returns.
    const hit = region.get('k');
    await region.invalidateTags(['t']);
    await hit;
    expect(await region.getOrCreate('k', () => 'v2')).toBe('v2');
  });

  it('tagCacheTime: 0 reads the times on every hit of a tagged value', async () => {
    const backend = new MapBackend();
    const region = makeRegion({ tagCacheTime: 0 }).configure(backend, { expirationTime: 600 });
    await region.getOrCreate('k', () => 'v', { tags: ['t'] });
    const reads = backend.calls.getMulti;
    for (let i = 0; i < 3; i++) await region.getOrCreate('k', () => 'x');
    expect(backend.calls.getMulti).toBe(reads + 3);
  });

  it('an untagged hit reads nothing more', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    await region.invalidateTags(['t']);
    await region.getOrCreate('k', () => 'v');
    const calls = { ...backend.calls };
    await region.getOrCreate('k', () => 'x');
    expect(backend.calls).toEqual({ ...calls, get: calls.get + 1 });
  });

  it('tags travel in the stored bytes as `tg`, which a JSON reader (Python dogpile.cache) skips', async () => {
    const backend = new BytesMapBackend();
    const region = makeRegion({ serializer: jsonSerializer }).configure(backend);
    await region.getOrCreate('k', () => ({ a: 1 }), { tags: ['x'] });
    const text = Buffer.from(backend.store.get('k')!).toString();
    const [metadata, payload] = text.split('|');
    expect(JSON.parse(metadata!)).toMatchObject({ tg: ['x'], v: 2 });
    expect(JSON.parse(payload!)).toEqual({ a: 1 });
  });

  it('a tag record that holds no time is reported and ignored, never a crash', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    await region.getOrCreate('k', () => 'v', { tags: ['t'] });
    await region.set('_dogpile_tag:t:hard', 'not a time');
    expect(await region.getOrCreate('k', () => 'x')).toBe('v');
    expect(errors).toContainEqual(
      expect.objectContaining({ operation: 'tagRead', key: '_dogpile_tag:t:hard' }),
    );
  });

  it('a failing read of the tag times fails the call; with failSafe it is a miss, reported', async () => {
    class FailingTags extends MapBackend {
      override async getMulti(keys: readonly string[]) {
        if (keys.some((key) => key.startsWith('_dogpile_tag:'))) throw new Error('down');
        return super.getMulti(keys);
      }
    }
    const backend = new FailingTags();
    const writer = makeRegion().configure(new MapBackend(), { expirationTime: 600 });
    void writer;
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    await region.getOrCreate('k', () => 'v', { tags: ['t'] });
    await expect(region.getOrCreate('k', () => 'x')).rejects.toThrow('down');
    expect(await region.getOrCreate('k', () => 'x', { failSafe: true })).toBe('x');
    expect(errors.length).toBeGreaterThan(0);
    expect(region.lockedKeyCount).toBe(0);
  });

  it('rejects bad tags and tag options with ValidationErrors, before anything is read', async () => {
    const backend = new MapBackend();
    const region = makeRegion().configure(backend, { expirationTime: 600 });
    const bad: unknown[] = [
      'user:7',
      [7],
      [''],
      ['\ud800'],
      Array.from({ length: 65 }, (_, i) => `t${i}`),
      null,
    ];
    for (const tags of bad) {
      await expect(
        region.getOrCreate('k', () => 'v', { tags: tags as string[] }),
      ).rejects.toBeInstanceOf(ValidationError);
      await expect(region.invalidateTags(tags as string[])).rejects.toBeInstanceOf(ValidationError);
    }
    expect(backend.calls.get).toBe(0);
    await expect(
      region.getOrCreate('k', (ctx: CreationContext) => {
        ctx.setTags('x' as never);
        return 'v';
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(region.lockedKeyCount).toBe(0);
    for (const tagCacheTime of [-1, 'soon', Number.NaN]) {
      expect(() => makeRegion({ tagCacheTime: tagCacheTime as never })).toThrow(ValidationError);
    }
  });
});
