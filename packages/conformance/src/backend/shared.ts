import { createHook } from 'node:async_hooks';
import type { CacheBackend } from '@dogpile/core';
import { cachedValue } from '../checks.js';
import { LARGE_PAYLOAD_CHARS, mangle, type Resolved, type TestScope } from '../harness.js';

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
export const BARE_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['the empty key', ''],
  ['a single space', ' '],
  ['"0"', '0'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['hasOwnProperty', 'hasOwnProperty'],
];

/** Keys used after the run's prefix. */
export const PREFIXED_KEYS: ReadonlyArray<readonly [string, string]> = [
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
export function everyByte(): Uint8Array {
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
export function trackResources(): { open(): string[]; stop(): void } {
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

/**
 * Uses the backend once for each kind of call (set, get, getMulti, delete, and its mutex when it
 * has one), so that it has opened every socket, handle and timer it uses.
 */
export async function use(
  scope: TestScope,
  backend: CacheBackend,
  options: Resolved,
): Promise<void> {
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
