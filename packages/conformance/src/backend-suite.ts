import { createHook } from 'node:async_hooks';
import {
  type CacheBackend,
  deserializeCachedValue,
  NO_VALUE,
  serializeCachedValue,
} from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import {
  cachedValue,
  caught,
  describeValue,
  expectBackendShape,
  expectBytes,
  expectDogpileError,
  expectMiss,
  expectValue,
} from './checks.js';
import {
  LARGE_PAYLOAD_CHARS,
  mangle,
  type Resolved,
  resolveOptions,
  TestScope,
} from './harness.js';
import type { ConformanceOptions } from './options.js';
import { sleep, waitFor } from './timing.js';

/** One payload of each JSON type, and the shapes stores get wrong (null, empty, `|`). */
export const PAYLOADS: ReadonlyArray<readonly [string, unknown]> = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['a negative fraction', -12.5],
  ['the largest double', Number.MAX_VALUE],
  ['the empty string', ''],
  ['a string', 'hello'],
  ['a unicode string', 'ключ 键 🔑 e\u0301 \u00e9'],
  ['a string with pipes', 'a|b|{"ct":1,"v":2}|'],
  ['an empty array', []],
  ['a mixed array', [1, 'two', null, true, { three: 3 }, [4]]],
  ['an empty object', {}],
  ['a nested object', { a: { b: { c: [1, { d: 'e' }] } }, ключ: 'значение', '': 'empty name' }],
];

/**
 * Keys used exactly as written, without the run's prefix, because the prefix would hide what
 * makes them hard (an object used as a map mistakes `__proto__` for its prototype).
 */
const BARE_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['the empty key', ''],
  ['a single space', ' '],
  ['"0"', '0'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['hasOwnProperty', 'hasOwnProperty'],
];

/** Keys used after the run's prefix. */
const PREFIXED_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['tab and newline', 'a\tb\nc'],
  ['a NUL character', 'a\u0000b'],
  ['Cyrillic', 'ключ'],
  ['CJK', '键'],
  ['emoji', '🔑🗝️'],
  ['a combining accent', 'e\u0301'],
  ['a precomposed accent', '\u00e9'],
  ['Arabic', 'مفتاح'],
  ['pipes and colons', 'a|b:c'],
  ['glob characters', '*?[]{}'],
  ['path characters', '../x/./y\\z'],
  // Lone surrogates have no UTF-8 form: a store that encodes keys as UTF-8 would give all three
  // one key. Stored apart, or refused with a DogpileError (core's validateKey), both pass.
  ['a lone high surrogate', 'x\uD800'],
  ['another lone high surrogate', 'x\uDBFF'],
  ['the replacement character', 'x\uFFFD'],
  ['300 characters', 'k'.repeat(300)],
  ['10 000 characters', 'long'.repeat(2500)],
];

/** 1 MiB of varied ASCII, so a truncated or shifted copy cannot compare equal. */
export function largeString(chars = LARGE_PAYLOAD_CHARS): string {
  const alphabet = Array.from({ length: 1021 }, (_, i) =>
    String.fromCharCode(33 + ((i * 37) % 94)),
  );
  let out = alphabet.join('');
  while (out.length < chars) out += out;
  return out.slice(0, chars);
}

/** All 256 byte values, twice, then the wire separator: what a binary serializer may produce. */
function everyByte(): Uint8Array {
  const bytes = new Uint8Array(513);
  for (let i = 0; i < 512; i++) bytes[i] = i % 256;
  bytes[512] = 0x7c;
  return bytes;
}

/**
 * Records the handles and timers (sockets, servers, child processes, intervals) created while it
 * is on, and forgets each one Node destroys. What is left, and still referenced, keeps the process
 * alive. Tracking by identity rather than counting means an unrelated timer ending meanwhile
 * cannot hide a leak.
 */
function trackResources(): { open(): string[]; stop(): void } {
  const live = new Map<number, { type: string; resource: unknown }>();
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (type !== 'PROMISE') live.set(asyncId, { type, resource });
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  }).enable();
  return {
    open() {
      const open: string[] = [];
      for (const { type, resource } of live.values()) {
        const handle = resource as { hasRef?: unknown; _destroyed?: unknown } | null;
        // Only handles and timers keep a process alive, and only while referenced: requests
        // finish by themselves. A fired or cleared timer is marked destroyed at once, while its
        // destroy hook comes a turn later.
        if (typeof handle?.hasRef !== 'function' || handle._destroyed === true) continue;
        if (handle.hasRef()) open.push(type);
      }
      return open;
    },
    stop() {
      hook.disable();
    },
  };
}

async function use(scope: TestScope, backend: CacheBackend, options: Resolved): Promise<void> {
  const key = mangle(backend, scope.key('use'));
  await backend.set(key, cachedValue('x'));
  await backend.get(key);
  await backend.getMulti([key]);
  await backend.delete(key);
  const mutex = backend.getMutex(key);
  if (mutex !== null && options.caps.mutex !== false) {
    if (await mutex.acquire(false)) await mutex.release();
  }
}

/**
 * Registers the backend suite: get/set/delete and their multi forms, keys and payloads of every
 * kind, the byte layer, server-side TTL and `close()`.
 */
export function backendSuite(options: ConformanceOptions): void {
  registerBackendSuite(resolveOptions(options));
}

export function registerBackendSuite(o: Resolved): void {
  const { caps } = o;
  const t = o.timeoutMs;

  describe(`${o.name}: backend`, () => {
    it('createBackend returns a CacheBackend', async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      expectBackendShape(await scope.backend());
    });

    it('capabilities.serialized agrees with backend.serializer', async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const backend = await scope.backend();
      if (caps.serialized) {
        expect(
          backend.serializer,
          'capabilities.serialized is true, but backend.serializer is not set, so the region never calls the *Serialized methods',
        ).toBeDefined();
      } else {
        expect(
          backend.serializer,
          'backend.serializer is set, so the region stores bytes through it; declare capabilities.serialized: true so the kit checks that layer',
        ).toBeUndefined();
      }
    });

    if (!caps.stores) {
      it(
        'stores nothing: every read misses',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const [a, b] = [mangle(backend, scope.key('a')), mangle(backend, scope.key('b'))];
          await backend.set(a, cachedValue(1));
          await backend.setMulti(new Map([[b, cachedValue(2)]]));
          expectMiss(await backend.get(a), 'get after set');
          const many = await backend.getMulti([a, b, a]);
          expect(many, 'getMulti returns one entry per key asked').toHaveLength(3);
          for (const value of many) expectMiss(value, 'getMulti after setMulti');
          expect(await backend.getMulti([])).toEqual([]);
          if (caps.serialized) {
            await backend.setSerialized(
              a,
              serializeCachedValue(cachedValue(3), backend.serializer!),
            );
            expectMiss(await backend.getSerialized(a), 'getSerialized after setSerialized');
          }
        },
        t,
      );

      it(
        'delete and deleteMulti are harmless',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const key = mangle(backend, scope.key());
          await backend.delete(key);
          await backend.deleteMulti([key, key]);
          await backend.deleteMulti([]);
        },
        t,
      );
    } else {
      it(
        'get of a missing key is NO_VALUE',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          expectMiss(
            await backend.get(mangle(backend, scope.key('missing'))),
            'get of a missing key',
          );
        },
        t,
      );

      it(
        'set then get returns the payload and all metadata',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const key = mangle(backend, scope.key());
          const value = cachedValue({ hello: 'world' });
          await backend.set(key, value);
          expectValue(await backend.get(key), value, 'get after set');
        },
        t,
      );

      it(
        'set replaces the previous value',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const key = mangle(backend, scope.key());
          await backend.set(key, cachedValue('first'));
          const second = cachedValue('second');
          await backend.set(key, second);
          expectValue(await backend.get(key), second, 'get after a second set');
        },
        t,
      );

      it(
        'delete removes the value; deleting again or deleting a missing key is fine',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const key = mangle(backend, scope.key());
          await backend.set(key, cachedValue(1));
          await backend.delete(key);
          expectMiss(await backend.get(key), 'get after delete');
          await backend.delete(key);
          await backend.delete(mangle(backend, scope.key('never-set')));
          expectMiss(await backend.get(key), 'get after a second delete');
        },
        t,
      );

      it(
        'getMulti([]) is [], and setMulti/deleteMulti accept empty input',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          expect(await backend.getMulti([])).toEqual([]);
          await backend.setMulti(new Map());
          await backend.deleteMulti([]);
        },
        t,
      );

      it(
        'getMulti keeps the order of the keys asked for, NO_VALUE where missing',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const keys = Array.from({ length: 6 }, (_, i) => mangle(backend, scope.key(`k${i}`)));
          const values = keys.map((_, i) => cachedValue(`value ${i}`));
          for (let i = 0; i < keys.length; i++) await backend.set(keys[i]!, values[i]!);
          const missing = mangle(backend, scope.key('missing'));
          const order = [3, 0, -1, 5, 1, 4, 2];
          const got = await backend.getMulti(order.map((i) => (i < 0 ? missing : keys[i]!)));
          expect(got, 'getMulti returns one entry per key asked').toHaveLength(order.length);
          order.forEach((i, position) => {
            if (i < 0) expectMiss(got[position], `getMulti position ${position} (a missing key)`);
            else
              expectValue(got[position]!, values[i]!, `getMulti position ${position} (key ${i})`);
          });

          // Written in one batch and read back reversed: a store that answers in its own order fails.
          const batch = new Map(keys.map((key, i) => [key, cachedValue(`batch ${i}`)] as const));
          await backend.setMulti(batch);
          const reversed = [...keys].reverse();
          const again = await backend.getMulti(reversed);
          reversed.forEach((key, position) => {
            expectValue(
              again[position]!,
              batch.get(key)!,
              `getMulti of reversed keys, position ${position}`,
            );
          });
        },
        t,
      );

      it(
        'getMulti answers a key asked several times at every position',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const [a, b, missing] = ['a', 'b', 'missing'].map((name) =>
            mangle(backend, scope.key(name)),
          );
          const [va, vb] = [cachedValue('A'), cachedValue('B')];
          await backend.set(a!, va);
          await backend.set(b!, vb);
          const got = await backend.getMulti([a!, b!, a!, missing!, a!, missing!]);
          expect(got).toHaveLength(6);
          expectValue(got[0]!, va, 'position 0');
          expectValue(got[1]!, vb, 'position 1');
          expectValue(got[2]!, va, 'position 2 (repeat)');
          expectMiss(got[3], 'position 3 (missing)');
          expectValue(got[4]!, va, 'position 4 (repeat)');
          expectMiss(got[5], 'position 5 (missing, repeated)');
        },
        t,
      );

      it(
        'setMulti stores every entry; deleteMulti removes them, ignoring missing and repeated keys',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const keys = Array.from({ length: 5 }, (_, i) => mangle(backend, scope.key(`m${i}`)));
          const mapping = new Map(keys.map((key, i) => [key, cachedValue({ i })] as const));
          await backend.setMulti(mapping);
          for (const key of keys)
            expectValue(await backend.get(key), mapping.get(key)!, 'get after setMulti');
          const missing = mangle(backend, scope.key('missing'));
          await backend.deleteMulti([keys[0]!, missing, keys[1]!, keys[0]!]);
          expectMiss(await backend.get(keys[0]!), 'deleted key 0');
          expectMiss(await backend.get(keys[1]!), 'deleted key 1');
          expectValue(
            await backend.get(keys[2]!),
            mapping.get(keys[2]!)!,
            'key 2 survives a deleteMulti of others',
          );
          await backend.deleteMulti(keys);
          for (const value of await backend.getMulti(keys))
            expectMiss(value, 'after deleteMulti of all');
        },
        t,
      );

      it(
        'stores payloads of every JSON type, null included',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const entries = PAYLOADS.map(([name, payload]) => {
            const slug = name.replace(/\s/g, '-');
            return {
              name,
              key: mangle(backend, scope.key(slug)),
              batchKey: mangle(backend, scope.key(`${slug}-batch`)),
              value: cachedValue(payload),
            };
          });
          for (const { name, key, value } of entries) {
            await backend.set(key, value);
            expectValue(await backend.get(key), value, `${name} through set/get`);
          }
          await backend.setMulti(
            new Map(entries.map(({ batchKey, value }) => [batchKey, value] as const)),
          );
          const got = await backend.getMulti(entries.map(({ batchKey }) => batchKey));
          entries.forEach(({ name, value }, i) => {
            expectValue(got[i]!, value, `${name} through setMulti/getMulti`);
          });
        },
        t,
      );

      it(
        'stores a 1 MiB payload',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const key = mangle(backend, scope.key('large'));
          const value = cachedValue({ blob: largeString(), tail: 'end' });
          await backend.set(key, value);
          expectValue(await backend.get(key), value, 'a 1 MiB payload through set/get');
          const [viaMulti] = await backend.getMulti([key]);
          expectValue(viaMulti!, value, 'a 1 MiB payload through getMulti');
          await backend.delete(key);
        },
        t,
      );

      if (caps.maxValueBytes !== undefined) {
        const limit = caps.maxValueBytes;
        it(
          `a value over maxValueBytes (${limit}) is refused or missed, never truncated`,
          async (ctx) => {
            const scope = new TestScope(o, ctx, 'backend');
            const backend = await scope.backend();
            const key = mangle(backend, scope.key('too-large'));
            const value = cachedValue(largeString(limit + 1024));
            const error = await caught(() => backend.set(key, value));
            if (error !== undefined) {
              expectDogpileError(error, 'set of a value over maxValueBytes');
              return;
            }
            const got = await backend.get(key);
            if (got !== NO_VALUE)
              expectValue(got, value, 'a value over maxValueBytes that was stored');
          },
          t,
        );
      }

      it(
        'unicode, empty-ish, ill-formed and long keys are stored apart (or rejected with a DogpileError: ill-formed, or past maxKeyLength)',
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend();
          const keys = [
            ...BARE_KEYS,
            ...PREFIXED_KEYS.map(([name, key]) => [name, `${scope.key('odd')}:${key}`] as const),
          ].map(([name, raw], i) => ({
            name,
            key: mangle(backend, raw),
            value: cachedValue({ i, name }),
          }));
          const stored: typeof keys = [];
          try {
            for (const entry of keys) {
              const error = await caught(() => backend.set(entry.key, entry.value));
              if (error === undefined) {
                stored.push(entry);
                continue;
              }
              expectDogpileError(error, `set of the key "${entry.name}"`);
              if (!entry.key.isWellFormed()) continue;
              const bytes = Buffer.byteLength(entry.key);
              expect(
                caps.maxKeyLength !== undefined && bytes > caps.maxKeyLength,
                `the key "${entry.name}" (${bytes} bytes after mangling) was refused, but it is within capabilities.maxKeyLength (${caps.maxKeyLength ?? 'no limit'}); store it, or give the backend a keyMangler`,
              ).toBe(true);
            }
            for (const entry of stored) {
              expectValue(
                await backend.get(entry.key),
                entry.value,
                `get of the key "${entry.name}"`,
              );
            }
            const all = await backend.getMulti(stored.map((entry) => entry.key));
            stored.forEach((entry, i) => {
              expectValue(all[i]!, entry.value, `getMulti of the key "${entry.name}"`);
            });
          } finally {
            await backend.deleteMulti(stored.map((entry) => entry.key));
          }
          for (const entry of stored)
            expectMiss(await backend.get(entry.key), `the key "${entry.name}" after deleteMulti`);
        },
        t,
      );
    }

    if (caps.stores && caps.serialized) {
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
          await backend.setSerializedMulti(
            new Map(keys.map((key, i) => [key, blobs[i]!] as const)),
          );
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

    if (caps.stores && caps.ttl !== false) {
      const ttlMs = caps.ttl === 'milliseconds' ? 400 : 2000;
      const slack = caps.ttl === 'milliseconds' ? 1500 : 2500;
      it(
        `the store drops entries about hints.ttlMs (${ttlMs} ms) after writing them, through every write method`,
        async (ctx) => {
          const scope = new TestScope(o, ctx, 'backend');
          const backend = await scope.backend({ ttlMs });
          const [one, m1, m2, raw] = ['one', 'm1', 'm2', 'raw'].map((name) =>
            mangle(backend, scope.key(name)),
          );
          const started = Date.now();
          await backend.set(one!, cachedValue(1));
          await backend.setMulti(
            new Map([
              [m1!, cachedValue(2)],
              [m2!, cachedValue(3)],
            ]),
          );
          const keys = [one!, m1!, m2!];
          if (caps.serialized) {
            await backend.setSerializedMulti(
              new Map([[raw!, serializeCachedValue(cachedValue(4), backend.serializer!)]]),
            );
            keys.push(raw!);
          }
          for (const value of await backend.getMulti(keys)) {
            expect(value, 'an entry right after writing it with hints.ttlMs').not.toBe(NO_VALUE);
          }
          await sleep(Math.max(0, started + ttlMs / 4 - Date.now()));
          for (const value of await backend.getMulti(keys)) {
            expect(value, `an entry ${ttlMs / 4} ms into a ${ttlMs} ms TTL`).not.toBe(NO_VALUE);
          }
          await waitFor(
            async () => (await backend.getMulti(keys)).every((value) => value === NO_VALUE),
            `every entry written with a ${ttlMs} ms TTL (set, setMulti${caps.serialized ? ', setSerializedMulti' : ''}) to be gone`,
            { timeoutMs: ttlMs + slack, intervalMs: 50 },
          );
          expect(
            Date.now() - started,
            'entries must not vanish long before their TTL',
          ).toBeGreaterThanOrEqual(ttlMs / 2);
        },
        t + ttlMs + slack,
      );
    }

    it(
      'close() leaves no open handles behind',
      async (ctx) => {
        const scope = new TestScope(o, ctx, 'backend');
        const resources = trackResources();
        ctx.onTestFinished(() => resources.stop());
        const backend = await scope.backend();
        await use(scope, backend, o);
        await scope.disposeNow(backend);
        // Sockets and timers may take a turn of the event loop to go after close() resolves.
        let left: string[] = [];
        await waitFor(
          () => {
            left = resources.open();
            return left.length === 0;
          },
          'handles opened by the backend to be closed',
          { timeoutMs: 3000, intervalMs: 50 },
        ).catch(() => {
          expect(
            left.join(', '),
            'handles and timers the backend opened and close() left open',
          ).toBe('');
        });
      },
      t,
    );
  });
}
