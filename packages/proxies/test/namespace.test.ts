import { makeRegion, NO_VALUE, ValidationError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { describe, expect, it } from 'vitest';
import { NamespaceProxy } from '../src/index.js';

/** A MemoryBackend that can list its keys, as NamespaceProxy.clear() needs. */
class ListingMemoryBackend extends MemoryBackend {
  constructor(readonly dict = new Map<string, unknown>()) {
    super({ cacheDict: dict });
  }
  async *scanKeys(prefix: string): AsyncIterable<string> {
    for (const key of [...this.dict.keys()]) if (key.startsWith(prefix)) yield key;
  }
}

describe('NamespaceProxy', () => {
  it('refuses a bad namespace or unknown options', () => {
    for (const options of [
      {},
      { namespace: '' },
      { namespace: 5 },
      { namespace: '\ud800' },
      { namespace: 'a', sep: ':' },
    ]) {
      expect(() => new NamespaceProxy(options as never), JSON.stringify(options)).toThrow(
        ValidationError,
      );
    }
  });

  it('two regions share one store without their keys meeting', async () => {
    const dict = new Map<string, unknown>();
    const store = new MemoryBackend({ cacheDict: dict });
    const users = makeRegion().configure(store, {
      wrap: [new NamespaceProxy({ namespace: 'users:' })],
    });
    const posts = makeRegion().configure(store, {
      wrap: [new NamespaceProxy({ namespace: 'posts:' })],
    });
    await users.set('1', 'alice');
    await posts.set('1', 'hello');
    expect(await users.get('1')).toBe('alice');
    expect(await posts.get('1')).toBe('hello');
    expect([...dict.keys()].sort()).toEqual(['posts:1', 'users:1']);
    await users.setMulti({ 2: 'bob' });
    expect(await posts.getMulti(['1', '2'])).toEqual(['hello', NO_VALUE]);
    await users.delete('1');
    expect(await posts.get('1')).toBe('hello');
  });

  it('validates keys, and prefixes lock keys too', async () => {
    const proxy = new NamespaceProxy({ namespace: 'ns:' });
    const seen: string[] = [];
    class Recording extends MemoryBackend {
      override getMutex(key: string) {
        seen.push(key);
        return null;
      }
    }
    proxy.wrap(new Recording());
    proxy.getMutex('k');
    expect(seen).toEqual(['ns:k']);
    await expect(proxy.get('\udc00' as string)).rejects.toBeInstanceOf(ValidationError);
    expect(() => proxy.getMutex(5 as never)).toThrow(ValidationError);
  });

  it('clear() deletes only its namespace, where the backend can list keys', async () => {
    const store = new ListingMemoryBackend();
    const a = new NamespaceProxy({ namespace: 'a:' }).wrap(store);
    const regionA = makeRegion().configure(a);
    const regionB = makeRegion().configure(store, {
      wrap: [new NamespaceProxy({ namespace: 'b:' })],
    });
    await regionA.setMulti({ 1: 1, 2: 2, 3: 3 });
    await regionB.set('1', 'b');
    expect(await a.clear()).toBe(3);
    expect(await regionA.get('1')).toBe(NO_VALUE);
    expect(await regionB.get('1')).toBe('b');
    const plain = new NamespaceProxy({ namespace: 'x:' }).wrap(new MemoryBackend());
    await expect(plain.clear()).rejects.toBeInstanceOf(ValidationError);
  });
});
