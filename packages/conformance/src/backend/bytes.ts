import { deserializeCachedValue, serializeCachedValue } from '@dogpile/core';
import { expect, it } from 'vitest';
import { cachedValue, describeValue, expectBytes, expectMiss, expectValue } from '../checks.js';
import { mangle, type Resolved, TestScope } from '../harness.js';
import { everyByte } from './shared.js';

/**
 * The byte layer of a serialized backend: exact bytes back, the multi forms, and agreement with
 * get/set.
 */
export function registerBytesTests(o: Resolved): void {
  const t = o.timeoutMs;

  it(
    'getSerialized returns exactly the bytes setSerialized was given, every byte value included',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const key = mangle(backend, scope.key('bytes'));
      expectMiss(await backend.getSerialized(key), 'getSerialized of a missing key');
      const bytes = everyByte();
      await backend.setSerialized(key, bytes);
      expectBytes(await backend.getSerialized(key), bytes, 'getSerialized after setSerialized');
    },
    t,
  );

  it(
    'getSerializedMulti keeps order, repeats and misses; setSerializedMulti stores every entry',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const keys = Array.from({ length: 4 }, (_, i) => mangle(backend, scope.key(`s${i}`)));
      const blobs = keys.map((_, i) => Uint8Array.from([i, 0, 255, 0x7c, i]));
      await backend.setSerializedMulti(new Map(keys.map((key, i) => [key, blobs[i]!] as const)));
      const missing = mangle(backend, scope.key('missing'));
      const ask = [keys[2]!, missing, keys[0]!, keys[3]!, keys[2]!, keys[1]!];
      const got = await backend.getSerializedMulti(ask);
      expect(got).toHaveLength(ask.length);
      expectBytes(got[0]!, blobs[2]!, 'position 0');
      expectMiss(got[1], 'position 1 (missing)');
      expectBytes(got[2]!, blobs[0]!, 'position 2');
      expectBytes(got[3]!, blobs[3]!, 'position 3');
      expectBytes(got[4]!, blobs[2]!, 'position 4 (repeat)');
      expectBytes(got[5]!, blobs[1]!, 'position 5');
      expect(await backend.getSerializedMulti([])).toEqual([]);
    },
    t,
  );

  it(
    'set() and getSerialized(), setSerialized() and get() agree on the JSON(metadata)|payload bytes',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      const serializer = backend.serializer!;
      const [a, b] = [mangle(backend, scope.key('a')), mangle(backend, scope.key('b'))];
      const value = cachedValue({ list: [1, 2, 3], text: 'a|b' });
      await backend.set(a, value);
      const bytes = await backend.getSerialized(a);
      expect(
        bytes instanceof Uint8Array,
        `getSerialized after set gave ${describeValue(bytes)}`,
      ).toBe(true);
      expectValue(
        deserializeCachedValue(bytes as Uint8Array, serializer),
        value,
        'bytes written by set()',
      );
      const other = cachedValue(['written', 'as', 'bytes']);
      await backend.setSerialized(b, serializeCachedValue(other, serializer));
      expectValue(await backend.get(b), other, 'get() of bytes written by setSerialized()');
      const [viaMulti] = await backend.getMulti([b]);
      expectValue(viaMulti!, other, 'getMulti() of bytes written by setSerialized()');
    },
    t,
  );
}
