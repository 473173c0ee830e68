import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type CacheBackend,
  CachedValue,
  CantDeserializeError,
  type ErrorEvent,
  jsonSerializer,
  makeRegion,
  NO_VALUE,
  type Serializer,
  serializeCachedValue,
  VALUE_VERSION,
} from '@dogpile/core';
import { describe, expect, it, type TestContext } from 'vitest';
import { describeValue, expectMiss } from './checks.js';
import { mangle, type Resolved, resolveOptions, TestScope } from './harness.js';
import type { ConformanceOptions } from './options.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function concat(...parts: Array<string | Uint8Array>): Uint8Array {
  return Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : part)),
  );
}

/**
 * Collects what the region reports on `dogpile:error` during a test, which also keeps those
 * reports from turning into process warnings.
 */
function captureErrorReports(ctx: TestContext): ErrorEvent[] {
  const events: ErrorEvent[] = [];
  const listener = (message: unknown) => {
    events.push(message as ErrorEvent);
  };
  subscribe('dogpile:error', listener);
  ctx.onTestFinished(() => {
    unsubscribe('dogpile:error', listener);
  });
  return events;
}

/** Stored bytes the wire format or the serializer must refuse with `CantDeserializeError`. */
function unreadable(serializer: Serializer): Array<[string, Uint8Array]> {
  const meta = JSON.stringify({ ct: Date.now() / 1000, v: VALUE_VERSION });
  const cases: Array<[string, Uint8Array]> = [
    ['bytes without a "|"', encoder.encode('no separator here')],
    ['metadata that is not JSON', concat('{"ct": 1, "v"', '|', '"payload"')],
    ['metadata without "ct"', concat('{"v": 2}', '|', '"payload"')],
  ];
  // A payload this serializer cannot read, if the kit can find one; a serializer that reads
  // anything (raw bytes, say) has no such payload, and that case is left out.
  for (const payload of [
    Uint8Array.from([0xff, 0xfe, 0xfd, 0x00, 0x7b]),
    encoder.encode('{"unclosed": ['),
  ]) {
    try {
      serializer.deserialize(payload);
    } catch (error) {
      if (error instanceof CantDeserializeError) {
        cases.push(['a payload the serializer cannot read', concat(meta, '|', payload)]);
        break;
      }
    }
  }
  return cases;
}

/**
 * Registers the serializer suite, for backends that store bytes: the `JSON(metadata)|payload`
 * layout, unreadable bytes regenerated (`CantDeserializeError`), and another format version
 * read as a miss.
 */
export function serializerSuite(options: ConformanceOptions): void {
  registerSerializerSuite(resolveOptions(options));
}

export function registerSerializerSuite(o: Resolved): void {
  const t = o.timeoutMs;
  const applies = o.caps.serialized && o.caps.stores;

  describe(`${o.name}: serializer`, () => {
    if (!applies) {
      it.skip(`not applicable: capabilities say ${o.caps.stores ? 'serialized: false' : 'stores: false'}`, () => {});
      return;
    }

    const setup = async (ctx: TestContext) => {
      const scope = new TestScope(o, ctx, 'serializer');
      const backend = await scope.backend();
      const region = makeRegion({ name: 'conformance-serializer' }).configure(backend, {
        expirationTime: 3600,
      });
      const serializer = backend.serializer;
      if (serializer === undefined) {
        throw new Error('capabilities.serialized is true, but backend.serializer is not set.');
      }
      return { scope, backend, region, serializer };
    };

    const raw = (backend: CacheBackend, key: string) => backend.getSerialized(mangle(backend, key));

    it(
      'the region stores JSON(metadata)|payload bytes',
      async (ctx) => {
        const { scope, backend, region, serializer } = await setup(ctx);
        const key = scope.key();
        const payload = { user: 'ада', ids: [1, 2, 3], note: 'a|b' };
        const before = Date.now() / 1000;
        await region.set(key, payload);
        const bytes = await raw(backend, key);
        expect(bytes instanceof Uint8Array, `getSerialized gave ${describeValue(bytes)}`).toBe(
          true,
        );
        const stored = bytes as Uint8Array;
        const cut = stored.indexOf(0x7c);
        expect(cut, 'the stored bytes have a "|" after the metadata').toBeGreaterThan(0);
        const metadata = JSON.parse(decoder.decode(stored.subarray(0, cut)));
        expect(metadata.v, 'metadata.v').toBe(VALUE_VERSION);
        expect(typeof metadata.ct, 'metadata.ct').toBe('number');
        expect(metadata.ct, 'metadata.ct (seconds since the epoch)').toBeGreaterThanOrEqual(
          before - 1,
        );
        expect(metadata.ct).toBeLessThanOrEqual(Date.now() / 1000 + 1);
        expect(
          serializer.deserialize(stored.subarray(cut + 1)),
          'the payload after the first "|"',
        ).toStrictEqual(payload);
        if (serializer === jsonSerializer) {
          expect(
            JSON.parse(decoder.decode(stored.subarray(cut + 1))),
            'the JSON payload',
          ).toStrictEqual(payload);
        }
      },
      t,
    );

    it(
      'the region reads values another writer stored in that layout',
      async (ctx) => {
        const { scope, backend, region, serializer } = await setup(ctx);
        const key = scope.key();
        const payload = ['from', 'another', { writer: true }];
        await backend.setSerialized(
          mangle(backend, key),
          serializeCachedValue(
            new CachedValue(payload, { ct: Date.now() / 1000, v: VALUE_VERSION, by: 'x' }),
            serializer,
          ),
        );
        expect(
          await region.get(key),
          'region.get of bytes written by another writer',
        ).toStrictEqual(payload);
        if (serializer === jsonSerializer) {
          // Exactly what Python dogpile.cache writes with json.dumps (spaces after separators).
          const python = `{"ct": ${(Date.now() / 1000).toFixed(6)}, "v": 2}|{"answer": [42, null, "x"]}`;
          const pyKey = scope.key('python');
          await backend.setSerialized(mangle(backend, pyKey), encoder.encode(python));
          expect(
            await region.get(pyKey),
            'region.get of bytes written by Python dogpile.cache',
          ).toStrictEqual({
            answer: [42, null, 'x'],
          });
        }
      },
      t,
    );

    it(
      'unreadable bytes are a miss: reported, regenerated and replaced (CantDeserializeError)',
      async (ctx) => {
        const reports = captureErrorReports(ctx);
        const { scope, backend, region, serializer } = await setup(ctx);
        for (const [name, bytes] of unreadable(serializer)) {
          const key = scope.key(name.replace(/\W+/g, '-'));
          await backend.setSerialized(mangle(backend, key), bytes);
          expectMiss(await region.get(key), `region.get of ${name}`);
          const good = scope.key('good');
          await region.set(good, 'fine');
          const many = await region.getMulti([good, key]);
          expect(many[0], `region.getMulti next to ${name}`).toBe('fine');
          expectMiss(many[1], `region.getMulti of ${name}`);
          let calls = 0;
          const value = await region.getOrCreate(key, () => {
            calls++;
            return `regenerated after ${name}`;
          });
          expect(value, `region.getOrCreate over ${name}`).toBe(`regenerated after ${name}`);
          expect(calls, `creator calls over ${name}`).toBe(1);
          expect(await region.get(key), `region.get after regenerating ${name}`).toBe(
            `regenerated after ${name}`,
          );
        }
        expect(
          reports.some(
            (event) => event.operation === 'deserialize' && event.error instanceof Error,
          ),
          'the region reports unreadable values on the dogpile:error channel',
        ).toBe(true);
      },
      t,
    );

    it(
      'a value of another format version is a miss, and is regenerated',
      async (ctx) => {
        const { scope, backend, region, serializer } = await setup(ctx);
        const key = scope.key();
        const old = new CachedValue('old format', { ct: Date.now() / 1000, v: VALUE_VERSION - 1 });
        await backend.setSerialized(mangle(backend, key), serializeCachedValue(old, serializer));
        expectMiss(await region.get(key), 'region.get of a value with another "v"');
        const value = await region.getOrCreate(key, () => 'current format');
        expect(value).toBe('current format');
        expect(await region.get(key)).toBe('current format');
        expect(await backend.getSerialized(mangle(backend, key))).not.toBe(NO_VALUE);
      },
      t,
    );
  });
}
